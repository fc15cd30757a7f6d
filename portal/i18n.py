"""Languages of the public pages and their gettext message catalogs (portal/locale/<lang>/LC_MESSAGES/
messages.po, compiled in memory with Babel at start, so no build step and no binary files in the repo)."""
from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from aiohttp import web
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
# (code used in URLs and <html lang>, name shown in the language menu, gettext folder)
LANGUAGES = [
    ("ja", "日本語", "ja"),
    ("ja-x-easy", "やさしい日本語", "ja_easy"),
    ("en", "English", "en"),
    ("zh-Hans", "简体中文", "zh_Hans"),
    ("zh-Hant", "繁體中文", "zh_Hant"),
    ("ko", "한국어", "ko"),
    ("vi", "Tiếng Việt", "vi"),
    ("pt", "Português", "pt"),
]
CODES = [c for c, _, _ in LANGUAGES]
_FOLDER = {c: f for c, _, f in LANGUAGES}


@cache
def translations(lang: str) -> NullTranslations:
    po = LOCALE_DIR / _FOLDER.get(lang, "ja") / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=_FOLDER[lang].replace("_easy", "").replace("zh_Hans", "zh_Hans_CN")
                          .replace("zh_Hant", "zh_Hant_TW"))
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def pick_language(request: web.Request) -> str:
    """?lang= wins, then the cookie, then Accept-Language, then Japanese."""
    lang = request.query.get("lang") or request.cookies.get("lang")
    if lang in CODES:
        return lang
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-Hant" if any(x in tag for x in ("hant", "tw", "hk")) else "zh-Hans"
        for code in CODES:
            if tag and code.lower().split("-")[0] == tag.split("-")[0]:
                return code
    return "ja"


def layer_name_language(lang: str) -> str:
    """Layers carry names in ja/en (and optional more); やさしい日本語 readers get the Japanese name."""
    return "ja" if lang in ("ja", "ja-x-easy") else lang
