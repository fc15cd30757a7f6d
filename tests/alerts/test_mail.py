"""alerts.mail: addresses as carriers have them, ISO-2022-JP with character mapping, fast rendering that
the email package parses cleanly, DKIM that dkimpy verifies, DSN parsing."""
from __future__ import annotations

import base64
from email import message_from_bytes, policy

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from alerts.mail.address import header_address, normalise_email
from alerts.mail.compose import MailTemplate
from alerts.mail.dkim import DkimSigner
from alerts.mail.dsn import parse_dsn
from alerts.mail.jis import to_jis_text
from machihub.errors import Invalid

BODY = "①大雨警報 ㈱ﾃｽﾄ ～ 髙橋さん\n設定：\x00PREFS\x00\n停止：\x00UNSUB\x00"


def test_legacy_carrier_addresses_are_accepted():
    assert normalise_email(" taro..yamada@DoCoMo.ne.jp ") == "taro..yamada@docomo.ne.jp"
    assert normalise_email("hanako.@ezweb.ne.jp") == "hanako.@ezweb.ne.jp"
    assert header_address("taro..yamada@docomo.ne.jp") == '"taro..yamada"@docomo.ne.jp'
    assert header_address("ok.name@example.jp") == "ok.name@example.jp"
    for bad in ("no-at-sign", "a@b", "a b@example.jp", "x@-bad-.jp", "x@example.123"):
        with pytest.raises(Invalid):
            normalise_email(bad)


def test_jis_mapping():
    text, lost = to_jis_text("①㈱ﾃｽﾄｶﾞｯｺｳ～－髙﨑 ⑳ 😀")
    assert text == "(1)(株)テストガッコウ〜−高崎 (20) 〓" and lost == ["😀"]
    text.encode("iso-2022-jp")


def _template(charset: str) -> MailTemplate:
    return MailTemplate.build(from_name="狛江市 安心安全メール", from_addr="anshin@city.example.lg.jp",
                              subject="【狛江市】①不審者情報 ﾃｽﾄ", body=BODY, charset=charset,
                              domain="city.example.lg.jp", list_id="13219.crime.city.example.lg.jp")


def test_iso_2022_jp_mail_decodes_to_the_intended_text():
    raw = _template("iso-2022-jp").render("taro..yamada@docomo.ne.jp", "a1.2", "https://x/p/1", "https://x/u/1")
    assert all(b < 128 for b in raw), "carrier mail is 7bit"
    msg = message_from_bytes(raw, policy=policy.default)
    assert not msg.defects and msg.get_content_charset() == "iso-2022-jp"
    assert str(msg["Subject"]) == "【狛江市】(1)不審者情報 テスト"
    assert msg.get_content().replace("\r\n", "\n") == ("(1)大雨警報 (株)テスト 〜 高橋さん\n設定：https://x/p/1\n"
                                                       "停止：https://x/u/1\n")
    assert msg["To"].addresses[0].username == "taro..yamada" and not msg["To"].defects


def test_utf8_mail_parses_with_one_click_headers():
    raw = _template("utf-8").render("hanako@example.jp", "a1.3", "https://x/p/1", "https://x/u/1")
    msg = message_from_bytes(raw, policy=policy.default)
    assert not msg.defects
    assert msg["List-Unsubscribe"] == "<https://x/u/1>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Message-ID"] == "<a1.3@city.example.lg.jp>" and msg["Auto-Submitted"] == "auto-generated"
    assert "①大雨警報 ㈱ﾃｽﾄ" in msg.get_content()


def test_dkim_signature_verifies(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "dkim.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption()))
    pub = base64.b64encode(key.public_key().public_bytes(serialization.Encoding.DER,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    signer = DkimSigner(str(pem), "machihub", "city.example.lg.jp")
    dns = {b"machihub._domainkey.city.example.lg.jp.": b"v=DKIM1; k=rsa; p=" + pub}

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return dns.get(name)

    long_subject = MailTemplate.build(from_name="狛江市", from_addr="a@city.example.lg.jp", subject="長い件名 " * 12,
                                      body=BODY, charset="iso-2022-jp", domain="city.example.lg.jp")
    for tpl in (_template("utf-8"), _template("iso-2022-jp"), long_subject):   # the last one has a folded Subject
        signed = signer.sign(tpl.render("taro@docomo.ne.jp", "a1.4", "https://x/p", "https://x/u"))
        assert signed.startswith(b"DKIM-Signature:")
        assert dkim.verify(signed, dnsfunc=lookup)
        assert b"list-unsubscribe" in signed.split(b"\r\n\r\n")[0].lower().split(b"h=")[1][:300]
        tampered = signed.replace(b"https://x/u", b"https://evil/u")
        assert not dkim.verify(tampered, dnsfunc=lookup)


DSN = b"""From: MAILER-DAEMON@relay.example.jp\r
To: bounce+7-abc@city.example.lg.jp\r
Subject: Undelivered Mail Returned to Sender\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r
\r
--B\r
Content-Type: text/plain\r
\r
I'm sorry to have to inform you that your message could not be delivered.\r
--B\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; relay.example.jp\r
\r
Final-Recipient: rfc822; gone@docomo.ne.jp\r
Action: failed\r
Status: 5.1.1\r
Diagnostic-Code: smtp; 550 5.1.1 <gone@docomo.ne.jp>: User unknown\r
\r
Final-Recipient: rfc822; full@example.jp\r
Action: delayed\r
Status: 4.2.2\r
\r
--B\r
Content-Type: text/rfc822-headers\r
\r
Subject: test\r
--B--\r
"""


def test_dsn_parsing():
    reports = parse_dsn(DSN)
    assert [(r.recipient, r.hard) for r in reports] == [("gone@docomo.ne.jp", True), ("full@example.jp", False)]
    assert reports[0].status == "5.1.1" and "User unknown" in reports[0].diagnostic
    assert parse_dsn(b"Subject: out of office\r\n\r\nI am away\r\n") == []
