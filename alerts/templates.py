"""What an alert says in a mail or a push notification: templates per topic and language (the topic's own
template when there is one, else the language's default), and the feature-phone preview staff see before
approving. Texts are plain: phones and screen readers read them as they are."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy

from alerts.config import AlertConfig
from alerts.mail.compose import PREFS, UNSUB, MailTemplate
from alerts.mail.jis import to_jis_text
from alerts.model import JST, Alert

MARKS = {  # (status or msg_type) → subject prefix per language family
    "Exercise": {"ja": "【訓練】", "en": "[EXERCISE] "}, "Test": {"ja": "【試験】", "en": "[TEST] "},
    "Update": {"ja": "【続報】", "en": "[UPDATE] "}, "Cancel": {"ja": "【取消】", "en": "[CANCELLED] "},
}
FOOTER = {
    "ja": "――――\n配信設定の変更：{prefs}\n配信停止：{unsub}\n{tenant} 安心安全メール（このメールには返信できません）",
    "ja-x-easy": "――――\nせっていを かえる：{prefs}\nメールを とめる：{unsub}\n{tenant} あんしん あんぜん メール",
    "en": "――――\nChange your settings: {prefs}\nUnsubscribe: {unsub}\n{tenant} safety mail (do not reply to this mail)",
}
LABELS = {
    "ja": {"area": "対象地域", "issued": "発表", "until": "有効期限", "more": "詳しくは"},
    "ja-x-easy": {"area": "ばしょ", "issued": "だした ひと", "until": "いつまで", "more": "くわしく"},
    "en": {"area": "Area", "issued": "Issued", "until": "Valid until", "more": "More"},
}
EXTRA = {  # topic-specific closing lines
    ("crime", "ja"): "不審な人を見かけたら、すぐに110番通報してください。",
    ("crime", "en"): "If you see a suspicious person, call 110 at once.",
    ("quake", "ja"): "海岸や川の近くにいる人は、すぐに高い所へ避難してください。",
    ("quake", "en"): "If you are near the coast or a river, move to high ground at once.",
    ("fire", "ja"): "煙が見えたら近づかず、119番通報してください。",
}


def _family(lang: str) -> str:
    return lang if lang in FOOTER else ("ja" if lang.startswith("ja") else "en")


@dataclass(frozen=True)
class Rendered:
    lang: str
    subject: str
    body: str      # with PREFS/UNSUB placeholders


def render_alert(alert: Alert, language: str, tenant_name: str) -> Rendered:
    lang, text = alert.text_for(language)
    fam = _family(lang)
    short = "ja" if fam.startswith("ja") else "en"
    mark = "".join(MARKS.get(k, {}).get(short, "") for k in (alert.status, alert.msg_type))
    subject = f"{mark}{'【' + tenant_name + '】' if short == 'ja' else '[' + tenant_name + '] '}{text.headline}"
    labels = LABELS[fam]
    lines = [text.headline, ""]
    for part in (text.description, text.instruction, EXTRA.get((alert.topic, short), "")):
        if part:
            lines += [part.strip(), ""]
    if alert.areas:
        lines.append(f"{labels['area']}：{'、'.join(a.desc for a in alert.areas)}")
    when = alert.sent or alert.effective
    if when:
        lines.append(f"{labels['issued']}：{(alert.sender_name + ' ') if alert.sender_name else ''}{_when(when, short)}")
    if alert.expires:
        lines.append(f"{labels['until']}：{_when(alert.expires, short)}")
    if alert.web:
        lines.append(f"{labels['more']}：{alert.web}")
    lines += ["", FOOTER[fam].format(prefs=PREFS, unsub=UNSUB, tenant=tenant_name)]
    return Rendered(lang, subject, "\n".join(lines))


def _when(d: datetime, short: str) -> str:
    d = d.astimezone(JST)
    return f"{d.month}月{d.day}日 {d:%H:%M}" if short == "ja" else f"{d:%Y-%m-%d %H:%M} JST"


def push_payload(alert: Alert, language: str, tenant_name: str, url: str) -> dict[str, str]:
    lang, text = alert.text_for(language)
    short = "ja" if lang.startswith("ja") else "en"
    mark = "".join(MARKS.get(k, {}).get(short, "") for k in (alert.status, alert.msg_type))
    return {"title": f"{mark}{tenant_name}: {text.headline}", "body": (text.description or text.instruction)[:300],
            "url": url, "tag": alert.identifier, "severity": alert.severity, "lang": lang}


def mail_template(config: AlertConfig, alert: Alert, language: str, tenant_name: str, carrier: bool) -> MailTemplate:
    r = render_alert(alert, language, tenant_name)
    return MailTemplate.build(from_name=f"{tenant_name} 安心安全メール" if r.lang.startswith("ja") else
                              f"{tenant_name} safety mail", from_addr=config.mail_from, subject=r.subject,
                              body=r.body, charset="iso-2022-jp" if carrier else "utf-8", domain=config.mail_domain,
                              list_id=f"{alert.tenant_code}.{alert.topic}.{config.mail_domain}",
                              extra={"X-Machihub-Alert": alert.identifier})


def feature_phone_preview(config: AlertConfig, alert: Alert, language: str, tenant_name: str) -> dict:
    """The mail as a carrier phone receives it: decoded from the real ISO-2022-JP bytes, with its size and
    the characters the phone cannot show."""
    tpl = mail_template(config, alert, language, tenant_name, carrier=True)
    raw = tpl.render("preview@docomo.ne.jp", "preview", f"{config.public_url}/alerts/p/…", f"{config.public_url}/alerts/u/…")
    msg = message_from_bytes(raw, policy=policy.default)
    r = render_alert(alert, language, tenant_name)
    lost = sorted(set(to_jis_text(r.subject)[1] + to_jis_text(r.body)[1]))
    return {"subject": str(msg["Subject"]), "body": msg.get_content(), "bytes": len(raw), "lost": lost}
