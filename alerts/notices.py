"""Texts of the one-off mails residents get about their own subscription (confirm, already registered,
空メール answer). They carry no alert content and no List-Unsubscribe: there is nothing to unsubscribe from yet."""
from __future__ import annotations

NOTICES: dict[str, dict[str, tuple[str, str]]] = {
    "confirm": {
        "ja": ("【{tenant}】安心安全メール 登録の確認",
               "{tenant}の安心安全メールへの登録を受け付けました。\n"
               "次のリンクを開き、「登録する」を押すと登録が終わります（{hours}時間有効）。\n{url}\n\n"
               "心当たりがない場合は、このメールを破棄してください。登録はされません。"),
        "ja-x-easy": ("【{tenant}】あんしん あんぜん メール とうろくの かくにん",
                      "とうろくを うけつけました。\nつぎの リンクを ひらいて「とうろくする」を おしてください。\n{url}\n\n"
                      "こころあたりが ない ときは、この メールを けしてください。"),
        "en": ("[{tenant}] Please confirm your safety mail subscription",
               "We received a subscription to the {tenant} safety mail for this address.\n"
               "Open this link and press \"Subscribe\" to finish (valid for {hours} hours):\n{url}\n\n"
               "If this was not you, delete this mail: nothing will be sent to you."),
    },
    "manage": {
        "ja": ("【{tenant}】安心安全メール 登録済みです",
               "このアドレスはすでに登録されています。配信設定の変更・停止はこちら：\n{url}"),
        "en": ("[{tenant}] You are already subscribed",
               "This address already receives the {tenant} safety mail. Change or stop it here:\n{url}"),
    },
    "signup": {
        "ja": ("安心安全メール 登録のご案内",
               "空メールを受け付けました。次のリンクから受け取る情報と地域を選んで登録してください（{hours}時間有効）。\n{url}"),
        "en": ("Safety mail: choose what to receive",
               "We received your empty mail. Open this link to choose topics and areas ({hours} hours):\n{url}"),
    },
}


def notice(kind: str, lang: str, **values: object) -> tuple[str, str]:
    texts = NOTICES[kind]
    subject, body = texts.get(lang) or texts.get("ja" if lang.startswith("ja") else "en") or texts["ja"]
    return subject.format(**values), body.format(**values)
