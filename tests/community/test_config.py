"""Community settings are declared (so `machihub --help`, the README and settings validation know them) and
checked when the community package is built: a bad value is a clear error naming the setting."""
from __future__ import annotations

import pytest

from community.config import CommunityConfig
from community.service import report_config
from machihub.errors import Invalid
from machihub.settings import DECLARED, load_settings

NAMES = ("community_report_generalise", "community_report_grid_m", "community_report_days",
         "community_library_drop_dir", "community_arrivals_weekday", "community_arrivals_hour")


def test_declared_and_read_from_toml_and_environment(tmp_path):
    assert set(NAMES) <= {s.name for s in DECLARED}
    toml = tmp_path / "machihub.toml"
    toml.write_text('[machihub]\ncommunity_report_generalise = "grid"\ncommunity_report_grid_m = 250\n',
                    encoding="utf-8")
    settings = load_settings(config_file=toml, env={"MACHIHUB_COMMUNITY_REPORT_DAYS": "14",
                                                    "MACHIHUB_COMMUNITY_ARRIVALS_WEEKDAY": "Friday"})
    rc = report_config(settings)
    assert (rc.generalise, rc.grid_m, rc.public_days) == ("grid", 250.0, 14)
    assert CommunityConfig.from_settings(settings).arrivals_weekday == 4


@pytest.mark.parametrize("name, value, says", [
    ("community_report_generalise", "exact", "'chome' or 'grid'"),
    ("community_report_grid_m", "1", "between 10 and 5000"),
    ("community_report_days", "0", "between 1 and 365"),
    ("community_arrivals_weekday", "someday", "mon, tue"),
    ("community_arrivals_hour", "24", "between 0 and 23"),
])
def test_bad_values_are_refused_by_name(tmp_path, name, value, says):
    settings = load_settings(config_file=tmp_path / "none.toml", env={f"MACHIHUB_{name.upper()}": value})
    with pytest.raises(Invalid) as err:
        CommunityConfig.from_settings(settings)
    assert name in err.value.message and says in err.value.message


def test_wrong_type_is_refused_when_loading(tmp_path):
    with pytest.raises(Invalid, match="community_report_days"):
        load_settings(config_file=tmp_path / "none.toml", env={"MACHIHUB_COMMUNITY_REPORT_DAYS": "a month"})
