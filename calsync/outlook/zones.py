"""Time-zone names between Microsoft Graph (Windows names) and calsync (IANA names).

The mapping is CLDR's windowsZones table as maintained in ``tzlocal.windows_tz``,
never a hand-written list. Graph mostly speaks Windows names ("W. Europe Standard
Time") but also sends and accepts IANA names and "UTC", so each direction accepts
a name that is already in the target form. Unknown names raise ValidationError.
"""

from __future__ import annotations

from tzlocal.windows_tz import tz_win, win_tz

from calsync.errors import ValidationError
from calsync.model.booking import check_zone

_UTC_ALIASES = frozenset({"utc", "etc/utc", "tzone://microsoft/utc", "coordinated universal time", "gmt", "etc/gmt"})
_WIN_BY_LOWER = {name.lower(): name for name in win_tz}


def _is_iana(name: str) -> bool:
    try:
        check_zone(name)
    except ValueError:
        return False
    return True


def windows_to_iana(name: str) -> str:
    """IANA name for a Windows zone name as Graph sends it; IANA names and UTC pass through.

    >>> windows_to_iana("W. Europe Standard Time")
    'Europe/Berlin'
    """
    text = (name or "").strip()
    if text.lower() in _UTC_ALIASES:
        return "UTC"
    windows = _WIN_BY_LOWER.get(text.lower())
    if windows is not None:
        iana = win_tz[windows]
        return "UTC" if iana == "Etc/UTC" else iana
    if _is_iana(text):
        return text
    raise ValidationError(f"unknown time zone {name!r}: neither a Windows nor an IANA zone name", zone=name)


def iana_to_windows(name: str) -> str:
    """Windows name for an IANA zone (CLDR territory mapping); Windows names pass through."""
    text = (name or "").strip()
    if text.lower() in _UTC_ALIASES:
        return "UTC"
    windows = tz_win.get(text)
    if windows is not None:
        return windows
    if text.lower() in _WIN_BY_LOWER:
        return _WIN_BY_LOWER[text.lower()]
    raise ValidationError(f"time zone {name!r} has no Windows zone name", zone=name)


def graph_zone_name(iana: str) -> str:
    """The zone name calsync writes to Graph for an IANA zone: Windows if that is lossless.

    Graph accepts both forms. A Windows name is written only when it maps back to the
    same IANA zone ("Europe/Berlin" -> "W. Europe Standard Time"); otherwise the IANA
    name itself ("Europe/Zurich"), so reading the event back never changes the zone.
    """
    zone = windows_to_iana(iana)
    try:
        windows = iana_to_windows(zone)
    except ValidationError:
        return zone
    return windows if windows_to_iana(windows) == zone else zone
