"""Windows <-> IANA zone names, as Graph sends and accepts them."""

from __future__ import annotations

import pytest

from calsync.errors import ValidationError
from calsync.outlook.zones import graph_zone_name, iana_to_windows, windows_to_iana


@pytest.mark.parametrize(
    ("windows", "iana"),
    [
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("Tokyo Standard Time", "Asia/Tokyo"),
        ("AUS Eastern Standard Time", "Australia/Sydney"),
        ("UTC", "UTC"),
        ("tzone://Microsoft/Utc", "UTC"),
        ("pacific standard time", "America/Los_Angeles"),
        ("Europe/Zurich", "Europe/Zurich"),  # Graph also sends IANA names
    ],
)
def test_graph_zone_names_become_iana(windows: str, iana: str) -> None:
    assert windows_to_iana(windows) == iana


def test_iana_names_become_windows_names_and_windows_names_pass() -> None:
    assert iana_to_windows("Europe/Zurich") == "W. Europe Standard Time"
    assert iana_to_windows("America/New_York") == "Eastern Standard Time"
    assert iana_to_windows("Eastern Standard Time") == "Eastern Standard Time"
    assert iana_to_windows("UTC") == "UTC"


@pytest.mark.parametrize("name", ["Customized Time Zone", "Mars/Olympus_Mons", ""])
def test_unknown_zones_are_refused_by_name(name: str) -> None:
    with pytest.raises(ValidationError, match="time zone"):
        windows_to_iana(name)


def test_written_zone_name_reads_back_as_the_same_zone() -> None:
    assert graph_zone_name("Europe/Berlin") == "W. Europe Standard Time"
    assert graph_zone_name("Europe/Zurich") == "Europe/Zurich"  # the Windows name would read back as Berlin
    for zone in ("Europe/Berlin", "Europe/Zurich", "Asia/Kolkata", "America/Sao_Paulo", "UTC", "Pacific/Auckland"):
        assert windows_to_iana(graph_zone_name(zone)) == zone
