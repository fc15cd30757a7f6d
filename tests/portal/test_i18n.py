"""Message catalogs of the portal (portal/locale): they parse, are complete, keep placeholders and are up to
date with the templates and Python sources named by babel.cfg.

When a test here fails after changing a template: run  .venv/bin/python portal/locale/update_catalogs.py
and translate the new (empty or fuzzy) entries it reports."""
from __future__ import annotations

import importlib.util
import io
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "portal" / "locale"
POT = LOCALE / "messages.pot"
# Every message must be translated in these; English msgids are English, so en may stay empty.
REQUIRED = ["ja", "ja_easy", "zh_Hans", "zh_Hant", "ko", "vi", "pt"]
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
HINT = "run `.venv/bin/python portal/locale/update_catalogs.py` and translate the reported entries"


def _load_updater():
    spec = importlib.util.spec_from_file_location("update_catalogs", LOCALE / "update_catalogs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


uc = _load_updater()
FOLDERS = uc.FOLDERS


def _read(path: Path, folder: str | None = None):
    with path.open("rb") as fh:
        return read_po(fh, locale=uc.BABEL_LOCALE.get(folder, folder) if folder else None)


def _catalog(folder: str):
    path = uc.po_path(folder)
    assert path.exists(), f"missing {path.relative_to(ROOT)}: {HINT}"
    return _read(path, folder)


def _placeholders(text: str) -> Counter:
    return Counter(m for m in PLACEHOLDER.findall(text) if m != "%%")


def test_language_folders_match_i18n():
    from portal.i18n import LANGUAGES

    assert FOLDERS == [folder for _, _, folder in LANGUAGES]
    assert set(REQUIRED) | {"en"} == set(FOLDERS)


@pytest.mark.parametrize("folder", FOLDERS)
def test_catalog_parses_and_compiles(folder):
    catalog = _catalog(folder)
    assert len([m for m in catalog if m.id]) > 0
    problems = [f"{msg.id!r}: {'; '.join(map(str, errors))}" for msg, errors in catalog.check()]
    assert not problems, f"{folder}: " + "\n".join(problems)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    assert buf.getvalue()


def test_template_parses():
    assert len([m for m in _read(POT) if m.id]) > 0


@pytest.mark.parametrize("folder", REQUIRED)
def test_every_message_translated(folder):
    template_ids = uc.msgids(_read(POT))
    catalog = _catalog(folder)
    missing = sorted(i for i in template_ids if (m := catalog.get(i)) is None or not m.string or m.fuzzy)
    assert not missing, (f"{folder}: {len(missing)} of {len(template_ids)} messages untranslated or fuzzy "
                         f"({HINT}):\n  " + "\n  ".join(missing))


@pytest.mark.parametrize("folder", FOLDERS)
def test_placeholders_match(folder):
    bad = []
    for msg in _catalog(folder):
        if msg.id and msg.string and _placeholders(msg.id) != _placeholders(msg.string):
            bad.append(f"{msg.id!r} -> {msg.string!r}")
    assert not bad, f"{folder}: placeholders differ:\n  " + "\n  ".join(bad)


def test_catalogs_up_to_date_with_sources(tmp_path):
    """Re-extract from babel.cfg into a temporary .pot and compare msgids with the committed template and
    every catalog (obsolete #~ entries do not count)."""
    fresh = tmp_path / "messages.pot"
    uc.write_template(uc.extract(), fresh)
    expected = uc.msgids(_read(fresh))
    assert expected, "extraction found no messages: is babel.cfg right?"
    stale = []
    for name, catalog in [("messages.pot", _read(POT))] + [(f, _catalog(f)) for f in FOLDERS]:
        have = uc.msgids(catalog)
        if have != expected:
            stale.append(f"{name}: new in sources {sorted(expected - have)}, gone {sorted(have - expected)}")
    assert not stale, f"catalogs out of date ({HINT}):\n  " + "\n  ".join(stale)


def test_runtime_uses_the_catalogs():
    """portal.i18n compiles the .po files in memory; spot-check a disaster term and a placeholder message."""
    from portal.i18n import translations

    assert translations("ja").gettext("Tsunami") == "津波"
    assert translations("zh-Hans").gettext("Nearest shelters") == "附近的避难所"
    assert translations("ko").gettext("Nearest shelters") == "가까운 대피소"
    assert translations("en").gettext("Tsunami") == "Tsunami"
    for lang in ("ja", "ja-x-easy", "zh-Hant", "vi", "pt"):
        text = translations(lang).gettext("%(count)d features") % {"count": 7}
        assert "7" in text and text != "7 features", (lang, text)
