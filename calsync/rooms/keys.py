"""Room keys: the one rule that turns a mailbox's local part or free text into a calsync room key."""

from __future__ import annotations

import re
import unicodedata

MAX_KEY_LENGTH = 100
_NOT_KEY = re.compile(r"[^a-z0-9._-]+")


def slugify(text: str) -> str:
    """A room key from free text: ASCII lower case, runs of other characters become '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_KEY.sub("-", ascii_text.lower()).strip("-._")
    return slug[: MAX_KEY_LENGTH - 4].rstrip("-._") or "room"


def unique_key(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever is not taken yet; the result is added to ``taken``."""
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    taken.add(key)
    return key
