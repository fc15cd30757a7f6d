"""FAQ answers as rich text: a small whitelist of HTML tags, links checked, everything else dropped or escaped.

Answers come from staff forms and imported files and are shown on public pages, so they are cleaned when
saved (the stored HTML is safe to render as is). The parser is the standard library's: what it cannot make
sense of becomes text, never markup. Plain text (no tags at all) is turned into paragraphs with its URLs linked,
so a CSV written in Excel needs no HTML.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

# tag -> attributes kept on it
ALLOWED: dict[str, frozenset[str]] = {
    "p": frozenset({"lang"}), "br": frozenset(), "ul": frozenset(), "ol": frozenset(), "li": frozenset({"lang"}),
    "strong": frozenset(), "em": frozenset(), "b": frozenset(), "i": frozenset(), "h3": frozenset(),
    "h4": frozenset(), "dl": frozenset(), "dt": frozenset(), "dd": frozenset(), "table": frozenset(),
    "thead": frozenset(), "tbody": frozenset(), "tr": frozenset(), "th": frozenset({"scope"}),
    "td": frozenset(), "a": frozenset({"href"}),
}
VOID = frozenset({"br"})
# Their content is code or UI, never answer text: drop it with the tag.
DROP_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math",
                          "title", "textarea", "select", "head", "frame", "frameset", "applet"})
BLOCK = frozenset({"p", "br", "li", "h3", "h4", "dt", "dd", "tr", "table", "ul", "ol", "dl", "div"})
# Opening one of these closes an open sibling (<li>one<li>two) or paragraph (<p>text<ul>), as browsers do.
AUTOCLOSE = {"li": {"li"}, "p": {"p"}, "dt": {"dt", "dd"}, "dd": {"dt", "dd"}, "tr": {"tr", "td", "th"},
             "td": {"td", "th"}, "th": {"td", "th"}, **{t: {"p"} for t in ("ul", "ol", "dl", "table", "h3", "h4")}}
LANG_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$")  # a paragraph in another language (screen readers)
SCOPES = frozenset({"row", "col", "rowgroup", "colgroup"})
TAG_RE = re.compile(r"<[A-Za-z!/?]")
URL_RE = re.compile(r"https?://[^\s<>\"'（）「」、。]+")
MAX_DEPTH = 20


def safe_href(value: str) -> str | None:
    """http(s), mailto and tel links and site-relative paths; javascript:, data: and the like are refused."""
    v = "".join(ch for ch in value.strip() if ch >= " " and ch != "\x7f")  # browsers ignore control chars
    low = v.lower()
    if low.startswith(("http://", "https://", "mailto:", "tel:")):
        return v
    if (v.startswith("/") and not v.startswith("//")) or v.startswith("#"):
        return v
    return None


class _Cleaner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping = 0  # depth inside a DROP_CONTENT element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_CONTENT:
            self.dropping += 1
            return
        if self.dropping or tag not in ALLOWED:
            return
        if tag not in VOID and len(self.open) >= MAX_DEPTH:
            return
        while self.open and self.open[-1] in AUTOCLOSE.get(tag, ()):
            self.out.append(f"</{self.open.pop()}>")
        kept: list[str] = []
        for name, value in attrs:
            if name not in ALLOWED[tag] or value is None:
                continue
            if name == "href":
                href = safe_href(value)
                if href is None:
                    continue
                kept.append(f' href="{html.escape(href, quote=True)}"')
                if href.lower().startswith(("http://", "https://")):
                    kept.append(' rel="noopener noreferrer"')
            elif name == "scope" and value in SCOPES:
                kept.append(f' scope="{value}"')
            elif name == "lang" and LANG_RE.match(value):
                kept.append(f' lang="{value}"')
        self.out.append(f"<{tag}{''.join(kept)}>")
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_CONTENT:
            self.dropping = max(0, self.dropping - 1)
            return
        if self.dropping or tag not in self.open:
            return
        while self.open:  # close what was left open inside it, so the output nests properly
            inner = self.open.pop()
            self.out.append(f"</{inner}>")
            if inner == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(html.escape(data, quote=False))

    def result(self) -> str:
        self.close()
        self.out.extend(f"</{t}>" for t in reversed(self.open))
        return "".join(self.out).strip()


def _plain_to_html(text: str) -> str:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]

    def linked(line: str) -> str:
        parts, pos = [], 0
        for m in URL_RE.finditer(line):
            parts.append(html.escape(line[pos:m.start()], quote=False))
            url = html.escape(m.group(0), quote=True)
            parts.append(f'<a href="{url}" rel="noopener noreferrer">{url}</a>')
            pos = m.end()
        parts.append(html.escape(line[pos:], quote=False))
        return "".join(parts)

    return "".join("<p>" + "<br>".join(linked(line) for line in p.split("\n")) + "</p>" for p in paragraphs)


def sanitize(text: str) -> str:
    """Safe HTML for an answer: whitelisted tags only, checked links; plain text becomes paragraphs."""
    if not TAG_RE.search(text):
        return _plain_to_html(text)
    cleaner = _Cleaner()
    cleaner.feed(text)
    return cleaner.result()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_CONTENT:
            self.dropping += 1
        elif tag in BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_CONTENT:
            self.dropping = max(0, self.dropping - 1)
        elif tag in BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.parts.append(data)


def plain_text(markup: str) -> str:
    """The words of an answer (what is indexed and embedded): tags and link targets left out."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
