"""Offline address lookup to 町丁目 (town level) from Geolonia's town lists
(`<5-digit 団体コード>_<name>.json`: `[{town, koaza, lat, lng}]`).

Matching works on a normalised form of both the index and the query: NFKC (全角/半角), no spaces, ヶ/ケ/が and
ツ/ッ and ノ/の/之 folded, kanji numerals before 丁目/線/号/条 as arabic digits (一丁目 = 1丁目 = １丁目).
A leading prefecture and municipality name is stripped; then the longest town (+ 小字) name wins, and digits
after a town that has 丁目 are its 丁目 ('岩戸南1-5-10' → 岩戸南一丁目, rest '5-10').
Everything is built once into dicts keyed by the normalised names, so a lookup is a handful of dict probes."""
from __future__ import annotations

import bisect
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from machihub.errors import Invalid

PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県", "埼玉県",
    "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県",
    "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県",
    "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県",
    "宮崎県", "鹿児島県", "沖縄県",
)
_FILE_RE = re.compile(r"^(\d{5})_[^/\\]+\.json$")
_FOLD = str.maketrans({"ヶ": "ケ", "ヵ": "ケ", "が": "ケ", "ッ": "ツ", "っ": "ツ", "つ": "ツ", "の": "ノ", "之": "ノ"})
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMBERED = ("丁目", "線", "号", "条")           # kanji numerals before these become arabic
_DASHES = "‐‑‒–—―−ｰー－"
_CHOME_RE = re.compile(r"^(.*?)(\d+)丁目$")
_AFTER_TOWN_RE = re.compile(r"(\d+)(丁目)?")
_CITY_RE = re.compile(r"(?:[^市区町村郡]{1,6}郡)?[^市区町村郡]{1,6}?[市区町村](?:[^市区町村郡]{1,5}区)?")
_COUNTY_RE = re.compile(r"[^市区町村郡]{1,6}?郡")
_LEADING_SEPARATORS = " \u3000-－−ー‐の"


@dataclass(frozen=True)
class AddressEntry:
    tenant_code: str
    town: str
    koaza: str
    lat: float
    lng: float


@dataclass(frozen=True)
class AddressMatch:
    tenant_code: str
    town: str
    koaza: str
    lat: float
    lng: float
    matched_text: str   # the part of the query that named the town (without prefecture/municipality)
    rest: str           # what follows: 番地・号, building…


def _kanji_number(text: str) -> int:
    """一 → 1, 十一 → 11, 二十三 → 23, 百 → 100; positional 一〇 → 10."""
    total, current = 0, 0
    for ch in text:
        if ch in _KANJI_DIGITS:
            current = current * 10 + _KANJI_DIGITS[ch]
        else:
            total += (current or 1) * _KANJI_UNITS[ch]
            current = 0
    return total + current


def normalise(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Normalised text and, for each of its characters, the span (start, end) it came from in `text`."""
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch):
            if c in "\u3099\u309a" and chars:    # half-width (semi-)voiced mark: compose with the previous kana
                composed = unicodedata.normalize("NFC", chars[-1] + c)
                if len(composed) == 1:
                    chars[-1], spans[-1] = composed, (spans[-1][0], i + 1)
                    continue
            if c.isspace():
                continue
            if c in _DASHES and chars and chars[-1].isdigit():
                c = "-"
            chars.append(c.translate(_FOLD))
            spans.append((i, i + 1))
    # Kanji numerals before 丁目/線/号/条 → arabic digits, each digit mapped to the whole numeral's span.
    out_chars: list[str] = []
    out_spans: list[tuple[int, int]] = []
    i = 0
    while i < len(chars):
        j = i
        while j < len(chars) and (chars[j] in _KANJI_DIGITS or chars[j] in _KANJI_UNITS):
            j += 1
        if j > i and any("".join(chars[j:j + len(s)]) == s for s in _NUMBERED):
            digits = str(_kanji_number("".join(chars[i:j])))
            span = (spans[i][0], spans[j - 1][1])
            out_chars.extend(digits)
            out_spans.extend([span] * len(digits))
            i = j
            continue
        end = max(j, i + 1)
        out_chars.extend(chars[i:end])
        out_spans.extend(spans[i:end])
        i = end
    return "".join(out_chars), out_spans


def _key(text: str) -> str:
    return normalise(text)[0]


class _TenantIndex:
    """One municipality's towns: full keys (town+小字), 丁目 bases, and a sorted list for prefix suggestions."""

    def __init__(self, code: str, entries: list[AddressEntry], names: Iterable[str]) -> None:
        self.code = code
        self.keys: dict[str, AddressEntry] = {}
        self.bases: dict[str, dict[int, AddressEntry]] = {}
        for e in entries:
            key = _key(e.town + e.koaza)
            self.keys.setdefault(key, e)
            if not e.koaza and (m := _CHOME_RE.match(key)) and m.group(1):
                self.bases.setdefault(m.group(1), {}).setdefault(int(m.group(2)), e)
        self.key_lengths = sorted({len(k) for k in self.keys}, reverse=True)
        self.base_lengths = sorted({len(k) for k in self.bases}, reverse=True)
        self.sorted_keys = sorted(self.keys)
        # Forms of the municipality name to strip after the prefecture: '河西郡芽室町' and '芽室町'.
        forms: set[str] = set()
        for name in names:
            n = _key(name)
            for pref in PREFECTURES:
                if n.startswith(pref):
                    n = n[len(pref):]
                    break
            if n:
                forms.add(n)
                if "郡" in n[:-1]:
                    forms.add(n.split("郡", 1)[1])
        self.name_forms = sorted(forms, key=len, reverse=True)

    def strip_name(self, s: str, pos: int) -> int | None:
        """End of the municipality name at s[pos:] ('芽室町', also '河西郡芽室町' when only '芽室町' is known)."""
        starts = [pos] + [m.end() for m in [_COUNTY_RE.match(s, pos)] if m]
        for start in starts:
            for form in self.name_forms:
                if s.startswith(form, start):
                    return start + len(form)
        return None

    def match(self, s: str, pos: int) -> tuple[AddressEntry, int] | None:
        """Longest town at s[pos:] → (entry, end position in s)."""
        best: tuple[AddressEntry, int] | None = None
        for n in self.key_lengths:
            if pos + n > len(s):
                continue
            entry = self.keys.get(s[pos:pos + n])
            if entry is not None:
                best = (entry, pos + n)
                break
        for n in self.base_lengths:
            chome = self.bases.get(s[pos:pos + n]) if pos + n < len(s) else None
            if chome is None:
                continue
            m = _AFTER_TOWN_RE.match(s, pos + n)
            # '岩戸南1-5-10', '岩戸南1の5', '岩戸南1丁目…' or '岩戸南1' at the end: the number is the 丁目.
            if m and int(m.group(1)) in chome and (m.group(2) or m.end() == len(s) or s[m.end()] in "-ノ"):
                end = m.end() + (1 if not m.group(2) and m.end() < len(s) else 0)
                if best is None or end > best[1]:
                    best = (chome[int(m.group(1))], end)
        return best


class AddressIndex:
    """Town-level address lookup for one or more municipalities; build once, query many times."""

    def __init__(self, entries: Iterable[AddressEntry], names: Mapping[str, str | Iterable[str]] | None = None) -> None:
        by_code: dict[str, list[AddressEntry]] = {}
        for e in entries:
            by_code.setdefault(e.tenant_code, []).append(e)
        names = names or {}
        self._tenants = {
            code: _TenantIndex(code, items, [names[code]] if isinstance(names.get(code), str) else names.get(code, ()))
            for code, items in by_code.items()}

    @property
    def tenant_codes(self) -> list[str]:
        return sorted(self._tenants)

    @classmethod
    def from_files(cls, files: Iterable[str | Path],
                   names: Mapping[str, str | Iterable[str]] | None = None) -> AddressIndex:
        entries: list[AddressEntry] = []
        file_names: dict[str, list[str]] = {}
        for f in files:
            path = Path(f)
            m = _FILE_RE.match(path.name)
            if not m:
                raise Invalid(f"{path.name}: address file names must be <5-digit code>_<name>.json")
            code = m.group(1)
            try:
                rows = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise Invalid(f"{path.name}: cannot read address list: {exc}") from None
            if not isinstance(rows, list):
                raise Invalid(f"{path.name}: expected a JSON list of {{town, koaza, lat, lng}}")
            for i, row in enumerate(rows, 1):
                entries.append(_entry(path.name, i, code, row))
                # Full Geolonia records carry pref/city: the municipality name then comes from the file.
                if isinstance(row, dict) and isinstance(row.get("city"), str):
                    file_names.setdefault(code, [])
                    name = str(row.get("pref") or "") + row["city"]
                    if name not in file_names[code]:
                        file_names[code].append(name)
        merged: dict[str, list[str]] = {code: list(v) for code, v in file_names.items()}
        for code, value in (names or {}).items():
            merged.setdefault(code, []).extend([value] if isinstance(value, str) else list(value))
        return cls(entries, merged)

    @classmethod
    def from_dir(cls, path: str | Path, names: Mapping[str, str | Iterable[str]] | None = None) -> AddressIndex:
        files = sorted(p for p in Path(path).glob("*.json") if _FILE_RE.match(p.name))
        if not files:
            raise Invalid(f"{path}: no <code>_<name>.json address files")
        return cls.from_files(files, names)

    def _scopes(self, s: str, tenant_code: str | None) -> list[tuple[_TenantIndex, list[int]]]:
        """Which municipalities to search and from which positions of s (after prefecture/municipality)."""
        if tenant_code is not None and tenant_code not in self._tenants:
            return []
        pos = 0
        for pref in PREFECTURES:
            if s.startswith(pref):
                pos = len(pref)
                break
        candidates = [self._tenants[tenant_code]] if tenant_code else list(self._tenants.values())
        named = [(t, end) for t in candidates if (end := t.strip_name(s, pos)) is not None]
        if named:
            longest = max(end for _, end in named)
            return [(t, [end]) for t, end in named if end == longest]
        # Unknown municipality name: try the text as it is, then after a generic '…郡…町' / '…市…区' prefix.
        positions = [pos] + [m.end() for m in [_CITY_RE.match(s, pos)] if m]
        return [(t, positions) for t in candidates]

    def lookup(self, text: str, tenant_code: str | None = None) -> AddressMatch | None:
        """The town an address is in, or None (unknown town, or equally good towns in two municipalities)."""
        if not text or not text.strip():
            return None
        s, spans = normalise(text)
        found: list[tuple[int, AddressEntry, int, int]] = []   # (end, entry, start, tenant order)
        for order, (tenant, positions) in enumerate(self._scopes(s, tenant_code)):
            for pos in positions:
                hit = tenant.match(s, pos)
                if hit:
                    found.append((hit[1], hit[0], pos, order))
                    break
        if not found:
            return None
        best_end = max(f[0] - f[2] for f in found)
        best = [f for f in found if f[0] - f[2] == best_end]
        if len({f[1].tenant_code for f in best}) > 1:
            return None
        end, entry, start, _ = best[0]
        cut = spans[end - 1][1]
        matched = text[spans[start][0]:cut].rstrip(_LEADING_SEPARATORS)
        return AddressMatch(entry.tenant_code, entry.town, entry.koaza, entry.lat, entry.lng,
                            matched, text[cut:].lstrip(_LEADING_SEPARATORS))

    def suggest(self, prefix: str, tenant_code: str | None = None, limit: int = 10) -> list[AddressMatch]:
        """Towns whose name starts with what was typed so far (after prefecture/municipality), sorted."""
        s, _ = normalise(prefix or "")
        out: list[AddressMatch] = []
        seen: set[tuple[str, str, str]] = set()
        for tenant, positions in self._scopes(s, tenant_code):
            for pos in positions[:1] if s else [0]:
                rest = s[pos:]
                i = bisect.bisect_left(tenant.sorted_keys, rest)
                while i < len(tenant.sorted_keys) and tenant.sorted_keys[i].startswith(rest):
                    e = tenant.keys[tenant.sorted_keys[i]]
                    if (e.tenant_code, e.town, e.koaza) not in seen:
                        seen.add((e.tenant_code, e.town, e.koaza))
                        out.append(AddressMatch(e.tenant_code, e.town, e.koaza, e.lat, e.lng, e.town + e.koaza, ""))
                    i += 1
        out.sort(key=lambda m: (_key(m.town + m.koaza), m.tenant_code))
        return out[:max(0, limit)]


def _entry(file: str, i: int, code: str, row: Any) -> AddressEntry:
    if not isinstance(row, dict):
        raise Invalid(f"{file}: entry {i} is not an object")
    town, koaza, lat, lng = row.get("town"), row.get("koaza") or "", row.get("lat"), row.get("lng")
    if not isinstance(town, str) or not town or not isinstance(koaza, str):
        raise Invalid(f"{file}: entry {i} has no town name")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lng)) \
            or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise Invalid(f"{file}: entry {i} ({town}) has no valid lat/lng")
    return AddressEntry(code, town, koaza, float(lat), float(lng))
