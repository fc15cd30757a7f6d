"""Regenerate the message template and every language catalog of the portal in one step.

    .venv/bin/python portal/locale/update_catalogs.py           # extract, then update (or create) each catalog
    .venv/bin/python portal/locale/update_catalogs.py --check   # only report; exit 1 if anything is out of date

What it does (the same as ``pybabel extract -F babel.cfg`` followed by ``pybabel update``/``init`` for each
folder, but with the folder names portal/i18n.py uses, which are not all Babel locale names):

1. extracts every ``_()``/``gettext()`` string of the files that ``babel.cfg`` (repository root) names into
   ``portal/locale/messages.pot``;
2. merges that template into ``portal/locale/<folder>/LC_MESSAGES/messages.po`` for every folder of
   ``portal.i18n.LANGUAGES``, creating missing catalogs.  Existing translations are kept; a message whose
   msgid changed slightly gets the old translation marked ``#, fuzzy`` (review it and remove the flag —
   fuzzy entries are not used at run time); messages that disappeared are kept at the end as obsolete
   ``#~`` entries, so nothing translated is ever lost and comes back if the msgid comes back.

Files are only rewritten when something other than the date headers changed, so running it twice gives no diff.
Then translate the empty ``msgstr ""`` entries; tests/portal/test_i18n.py lists what is missing.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

LOCALE_DIR = Path(__file__).resolve().parent
ROOT = LOCALE_DIR.parents[1]
CONFIG = ROOT / "babel.cfg"
TEMPLATE = LOCALE_DIR / "messages.pot"

if str(ROOT) not in sys.path:  # run as a script: make `portal` importable for the language list
    sys.path.insert(0, str(ROOT))
from portal.i18n import LANGUAGES  # noqa: E402

FOLDERS = [folder for _, _, folder in LANGUAGES]
# Folder -> locale written in the catalog's Language header (and used for its plural rules).
BABEL_LOCALE = {"ja_easy": "ja", "zh_Hans": "zh_Hans_CN", "zh_Hant": "zh_Hant_TW", "pt": "pt_BR"}
TEAM = {"ja": "日本語 (ja)", "ja_easy": "やさしい日本語 (ja-x-easy)", "en": "English (en)",
        "zh_Hans": "简体中文 (zh-Hans)", "zh_Hant": "繁體中文, 台灣 (zh-Hant)", "ko": "한국어 (ko)",
        "vi": "Tiếng Việt (vi)", "pt": "Português do Brasil (pt)"}
HEADER = """\
# {what} for machihub.
# Regenerate: .venv/bin/python portal/locale/update_catalogs.py
# then fill the empty msgstr (tests/portal/test_i18n.py lists them).
# Distributed under the same license as the machihub project.
#"""
# Extracted comments: put "# Translators: ..." right before a _() call to explain it to translators.
COMMENT_TAGS = ["Translators:"]
PROJECT = "machihub"
DATE_HEADERS = (b'"POT-Creation-Date:', b'"PO-Revision-Date:')
WRITE_OPTS = {"width": 76, "include_previous": True}


def po_path(folder: str) -> Path:
    return LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po"


def _directory_filter(root: Path, method_map: list[tuple[str, str]]):
    """Only walk into the folders babel.cfg can match (never .venv, var/, tests/ ...)."""
    prefixes = []
    for pattern, _ in method_map:
        literal = []
        for part in pattern.split("/")[:-1]:
            if any(ch in part for ch in "*?["):
                break
            literal.append(part)
        prefixes.append("/".join(literal))

    def keep(path: str) -> bool:
        name = os.path.basename(path)
        if name.startswith((".", "_")):
            return False
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        return any(p == "" or rel == p or rel.startswith(p + "/") or p.startswith(rel + "/") for p in prefixes)

    return keep


def extract(root: Path = ROOT, config: Path = CONFIG) -> Catalog:
    """Extract all messages named by babel.cfg into a template catalog (like `pybabel extract`)."""
    with config.open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(config))
    template = Catalog(project=PROJECT, version="0.1", charset="utf-8", fuzzy=False,
                       header_comment=HEADER.format(what="Message template"),
                       creation_date=datetime.now(UTC))
    for filename, lineno, message, comments, context in extract_from_dir(
            root, method_map, options_map, comment_tags=COMMENT_TAGS, strip_comment_tags=True,
            directory_filter=_directory_filter(root, method_map)):
        template.add(message, None, [(filename.replace(os.sep, "/"), lineno)], auto_comments=comments,
                     context=context)
    return template


def _render(catalog: Catalog, **opts) -> bytes:
    buf = io.BytesIO()
    write_po(buf, catalog, **{**WRITE_OPTS, **opts})
    return buf.getvalue()


def _strip_dates(data: bytes) -> bytes:
    return b"\n".join(line for line in data.splitlines() if not line.startswith(DATE_HEADERS))


def _save(path: Path, data: bytes) -> bool:
    """Write unless only the date headers differ; return whether the file changed."""
    if path.exists() and _strip_dates(path.read_bytes()) == _strip_dates(data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def write_template(template: Catalog, path: Path = TEMPLATE) -> bool:
    return _save(path, _render(template, omit_header=False))


def read_catalog(folder: str, path: Path | None = None) -> Catalog:
    with (path or po_path(folder)).open("rb") as fh:
        return read_po(fh, locale=BABEL_LOCALE.get(folder, folder))


def merged_catalog(folder: str, template: Catalog) -> Catalog:
    """The catalog of one folder updated from the template (like `pybabel update`, or `init` if new)."""
    path = po_path(folder)
    if path.exists():
        catalog = read_catalog(folder)
    else:
        catalog = Catalog(locale=BABEL_LOCALE.get(folder, folder), project=PROJECT, version="0.1",
                          charset="utf-8", fuzzy=False, language_team=TEAM.get(folder, folder),
                          header_comment=HEADER.format(what=f"{TEAM.get(folder, folder)} translations"),
                          revision_date=datetime.now(UTC))
    old_obsolete = dict(catalog.obsolete)
    catalog.update(template, update_header_comment=False, keep_user_comments=True)
    # Babel does not revive obsolete (#~) entries when their msgid reappears: do it here.
    for msg in catalog:
        key = msg.id if not msg.context else (msg.id, msg.context)
        old = old_obsolete.get(key)
        if msg.id and old is not None and old.string and (not msg.string or msg.fuzzy):
            msg.string = old.string
            msg.flags.discard("fuzzy")
            msg.previous_id = []
            catalog.obsolete.pop(key, None)
    return catalog


def _template_ids() -> set[str]:
    with TEMPLATE.open("rb") as fh:
        return msgids(read_po(fh))


def msgids(catalog: Catalog) -> set[str]:
    return {m.id for m in catalog if m.id}


def missing(catalog: Catalog) -> list[str]:
    """Msgids with no usable translation (empty or fuzzy)."""
    return [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if the template or a catalog "
                    "is out of date with the sources")
    args = ap.parse_args(argv)

    template = extract()
    ids = msgids(template)
    stale = []
    if args.check:
        if not TEMPLATE.exists() or _template_ids() != ids:
            stale.append(str(TEMPLATE.relative_to(ROOT)))
    elif write_template(template):
        print(f"wrote {TEMPLATE.relative_to(ROOT)}")
    print(f"{len(ids)} messages")
    for folder in FOLDERS:
        path = po_path(folder)
        if args.check:
            if not path.exists() or msgids(read_catalog(folder)) != ids:
                stale.append(str(path.relative_to(ROOT)))
            catalog = read_catalog(folder) if path.exists() else None
        else:
            existed = path.exists()
            catalog = merged_catalog(folder, template)
            if _save(path, _render(catalog)):
                print(f"{'updated' if existed else 'created'} {path.relative_to(ROOT)}")
        if catalog is not None:
            todo = [i for i in missing(catalog) if i in ids]
            fuzzy = sum(1 for m in catalog if m.id and m.fuzzy)
            note = "" if folder != "en" else " (English: empty msgstr falls back to the msgid)"
            print(f"  {folder:8} {len(ids) - len(todo):4}/{len(ids)} translated, {fuzzy} fuzzy, "
                  f"{len(catalog.obsolete)} obsolete{note}")
    if stale:
        print("out of date (run .venv/bin/python portal/locale/update_catalogs.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
