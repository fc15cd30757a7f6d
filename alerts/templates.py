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

MARKS = {  # (status or msg_type) → subject prefix per language (やさしい日本語 uses the Japanese marks)
    "Exercise": {"ja": "【訓練】", "en": "[EXERCISE] ", "zh-Hans": "【演习】", "zh-Hant": "【演習】", "ko": "[훈련] ",
                 "vi": "[DIỄN TẬP] ", "pt": "[EXERCÍCIO] "},
    "Test": {"ja": "【試験】", "en": "[TEST] ", "zh-Hans": "【测试】", "zh-Hant": "【測試】", "ko": "[시험] ",
             "vi": "[THỬ NGHIỆM] ", "pt": "[TESTE] "},
    "Update": {"ja": "【続報】", "en": "[UPDATE] ", "zh-Hans": "【续报】", "zh-Hant": "【續報】", "ko": "[후속] ",
               "vi": "[CẬP NHẬT] ", "pt": "[ATUALIZAÇÃO] "},
    "Cancel": {"ja": "【取消】", "en": "[CANCELLED] ", "zh-Hans": "【取消】", "zh-Hant": "【取消】", "ko": "[취소] ",
               "vi": "[HỦY] ", "pt": "[CANCELADO] "},
}
FOOTER = {
    "ja": "――――\n配信設定の変更：{prefs}\n配信停止：{unsub}\n{tenant} 安心安全メール（このメールには返信できません）",
    "ja-x-easy": "――――\nせっていを かえる：{prefs}\nメールを とめる：{unsub}\n{tenant} あんしん あんぜん メール",
    "en": "――――\nChange your settings: {prefs}\nUnsubscribe: {unsub}\n{tenant} safety mail (do not reply to this mail)",
    "zh-Hans": "――――\n更改设置：{prefs}\n退订：{unsub}\n{tenant} 安全安心邮件（请勿回复本邮件）",
    "zh-Hant": "――――\n變更設定：{prefs}\n取消訂閱：{unsub}\n{tenant} 安全安心郵件（請勿回覆本郵件）",
    "ko": "――――\n설정 변경: {prefs}\n수신 거부: {unsub}\n{tenant} 안전 안심 메일 (이 메일에는 회신할 수 없습니다)",
    "vi": "――――\nThay đổi cài đặt: {prefs}\nHủy đăng ký: {unsub}\nThư an toàn {tenant} (vui lòng không trả lời thư này)",
    "pt": "――――\nAlterar configurações: {prefs}\nCancelar inscrição: {unsub}\nE-mail de segurança de {tenant} (não responda)",
}
FROM_NAME = {"ja": "{tenant} 安心安全メール", "en": "{tenant} safety mail", "zh-Hans": "{tenant} 安全安心邮件",
             "zh-Hant": "{tenant} 安全安心郵件", "ko": "{tenant} 안전 안심 메일", "vi": "Thư an toàn {tenant}",
             "pt": "E-mail de segurança de {tenant}"}
LABELS = {
    "ja": {"area": "対象地域", "issued": "発表", "until": "有効期限", "more": "詳しくは"},
    "ja-x-easy": {"area": "ばしょ", "issued": "だした ひと", "until": "いつまで", "more": "くわしく"},
    "en": {"area": "Area", "issued": "Issued", "until": "Valid until", "more": "More"},
    "zh-Hans": {"area": "对象地区", "issued": "发布", "until": "有效期至", "more": "详情"},
    "zh-Hant": {"area": "對象地區", "issued": "發布", "until": "有效期至", "more": "詳情"},
    "ko": {"area": "대상 지역", "issued": "발표", "until": "유효 기한", "more": "자세히"},
    "vi": {"area": "Khu vực", "issued": "Phát hành", "until": "Hiệu lực đến", "more": "Chi tiết"},
    "pt": {"area": "Área", "issued": "Emitido", "until": "Válido até", "more": "Mais"},
}
EXTRA = {  # topic-specific closing lines: what to do, in every language a subscriber can choose
    "crime": {"ja": "不審な人を見かけたら、すぐに110番通報してください。",
              "ja-x-easy": "あやしい ひとを みたら、すぐに 110ばんに でんわして ください。",
              "en": "If you see a suspicious person, call 110 at once.",
              "zh-Hans": "如果看到可疑人员，请立即拨打110报警。", "zh-Hant": "如果看到可疑人員，請立即撥打110報警。",
              "ko": "수상한 사람을 보면 즉시 110에 신고하십시오.", "vi": "Nếu thấy người khả nghi, hãy gọi ngay 110.",
              "pt": "Se vir uma pessoa suspeita, ligue 110 imediatamente."},
    "quake": {"ja": "海岸や川の近くにいる人は、すぐに高い所へ避難してください。",
              "ja-x-easy": "うみや かわの ちかくに いる ひとは、すぐに たかい ところへ にげて ください。",
              "en": "If you are near the coast or a river, move to high ground at once.",
              "zh-Hans": "在海岸或河流附近的人，请立即前往高处避难。", "zh-Hant": "在海岸或河川附近的人，請立即前往高處避難。",
              "ko": "해안이나 강 근처에 있는 분은 즉시 높은 곳으로 대피하십시오.",
              "vi": "Nếu đang ở gần bờ biển hoặc sông, hãy lập tức lên chỗ cao.",
              "pt": "Se estiver perto da costa ou de um rio, vá para um lugar alto imediatamente."},
    "fire": {"ja": "煙が見えたら近づかず、119番通報してください。",
             "ja-x-easy": "けむりを みたら ちかづかないで、119ばんに でんわして ください。",
             "en": "If you see smoke, keep away and call 119.",
             "zh-Hans": "看到烟雾请不要靠近，并拨打119。", "zh-Hant": "看到煙霧請不要靠近，並撥打119。",
             "ko": "연기가 보이면 가까이 가지 말고 119에 신고하십시오.", "vi": "Nếu thấy khói, đừng lại gần và gọi 119.",
             "pt": "Se vir fumaça, afaste-se e ligue 119."},
}


def _family(lang: str) -> str:
    return lang if lang in FOOTER else ("ja" if lang.startswith("ja") else "en")


def _marks(alert: Alert, fam: str) -> str:
    key = "ja" if fam.startswith("ja") else fam
    return "".join(MARKS.get(k, {}).get(key, "") for k in (alert.status, alert.msg_type))


@dataclass(frozen=True)
class Rendered:
    lang: str
    subject: str
    body: str      # with PREFS/UNSUB placeholders


def render_alert(alert: Alert, language: str, tenant_name: str) -> Rendered:
    lang, text = alert.text_for(language)
    fam = _family(lang)
    short = "ja" if fam.startswith("ja") else "en"
    subject = f"{_marks(alert, fam)}{'【' + tenant_name + '】' if short == 'ja' else '[' + tenant_name + '] '}{text.headline}"
    labels = LABELS[fam]
    lines = [text.headline, ""]
    for part in (text.description, text.instruction, EXTRA.get(alert.topic, {}).get(fam, "")):
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
    return {"title": f"{_marks(alert, _family(lang))}{tenant_name}: {text.headline}", "body": (text.description or text.instruction)[:300],
            "url": url, "tag": alert.identifier, "severity": alert.severity, "lang": lang}


def carrier_charset(carrier: bool, lang: str) -> str:
    """ISO-2022-JP for carrier addresses (feature phones read nothing else), but only for Japanese and English:
    Korean, Vietnamese, Portuguese or Chinese text would turn into 〓, and phones with such readers take UTF-8."""
    return "iso-2022-jp" if carrier and (lang.startswith("ja") or lang == "en") else "utf-8"


def mail_template(config: AlertConfig, alert: Alert, language: str, tenant_name: str, carrier: bool) -> MailTemplate:
    r = render_alert(alert, language, tenant_name)
    return MailTemplate.build(from_name=FROM_NAME.get(r.lang, FROM_NAME["ja" if r.lang.startswith("ja") else "en"])
                              .format(tenant=tenant_name), from_addr=config.mail_from, subject=r.subject,
                              body=r.body, charset=carrier_charset(carrier, r.lang), domain=config.mail_domain,
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
