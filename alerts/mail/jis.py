"""Text for carrier phones (ISO-2022-JP, i.e. JIS X 0208 plus ASCII): characters the charset lacks are
mapped to what those phones show ('①' → '(1)', '㈱' → '(株)', half-width kana → full-width, '～' → '〜',
'髙' → '高'); anything still missing becomes '〓', the conventional replacement mark."""
from __future__ import annotations

import re
import unicodedata

GETA = "〓"
_TABLE = {chr(0x2460 + i): f"({i + 1})" for i in range(20)}           # ①..⑳
_TABLE.update({chr(0x2474 + i): f"({i + 1})" for i in range(20)})     # ⑴..⒇
_TABLE.update({
    "～": "〜", "－": "−", "∥": "‖", "￢": "¬", "￠": "¢", "￡": "£", "—": "―", "–": "−", "¦": "|",
    "髙": "高", "﨑": "崎", "德": "徳", "濵": "濱", "邉": "邊", "𠮷": "吉",
    "\u00a0": " ", "\u2009": " ", "\u200b": "", "\ufeff": "", "•": "・", "‼": "!!", "⁉": "!?",
    "№": "No.", "℡": "TEL", "㏍": "K.K.", "㍻": "平成", "㍼": "昭和", "㍽": "大正", "㍾": "明治", "㋿": "令和",
})
_HALFWIDTH_KANA = re.compile("[\uff61-\uff9f]+")


def _encodable(text: str) -> bool:
    try:
        text.encode("iso-2022-jp")
    except UnicodeEncodeError:
        return False
    return True


def to_jis_text(text: str) -> tuple[str, list[str]]:
    """Text that encodes as ISO-2022-JP, and the characters that had to be replaced by '〓'."""
    text = _HALFWIDTH_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    if _encodable(text):
        return text, []
    out: list[str] = []
    lost: list[str] = []
    for ch in text:
        if ch in _TABLE:
            out.append(_TABLE[ch])
        elif _encodable(ch):
            out.append(ch)
        else:
            folded = unicodedata.normalize("NFKC", ch)
            if folded != ch and _encodable(folded):
                out.append(folded)
            else:
                out.append(GETA)
                lost.append(ch)
    return "".join(out), lost


def encode_jis(text: str) -> bytes:
    """ISO-2022-JP bytes, each line ending in ASCII mode (RFC 1468): encode line by line."""
    mapped, _ = to_jis_text(text)
    return b"\r\n".join(line.encode("iso-2022-jp") for line in mapped.split("\n"))
