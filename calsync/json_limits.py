"""JSON from untrusted callers, parsed with limits: every failure is a ValidationError, never a crash.

Python's ``json`` module has no depth limit (a body of 1,000 ``[`` raises
RecursionError), converts any number of digits (a 4,301-digit integer raises
ValueError under the interpreter's int-conversion limit, and
``sys.set_int_max_str_digits`` would change that for the whole process), and
decodes ``\\ud800`` into a lone surrogate that later fails every encode. So:

- nesting depth is counted on the text before ``json.loads`` (brackets inside
  strings, and escaped quotes, are skipped), with a shortcut when the body has
  fewer brackets than the limit;
- numbers go through ``parse_int`` / ``parse_float`` hooks that refuse long digit
  strings, and ``NaN`` / ``Infinity`` (not JSON) are refused by ``parse_constant``;
- after parsing, every string (keys too) is checked for length and lone surrogates.

Messages say what limit was hit and never echo the input.
"""

from __future__ import annotations

import json
import re
from typing import Any

from calsync.errors import ValidationError

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 40
MAX_STRING_CHARS = 65_536

_STRUCTURE = re.compile(r'["\\\[\]{}]')
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused(Exception):
    """Raised inside json.loads hooks; becomes a ValidationError outside."""


def nesting_depth(text: str, limit: int) -> int:
    """The deepest nesting of arrays/objects in ``text``, counted up to ``limit + 1`` (then it stops)."""
    if text.count("[") + text.count("{") <= limit:
        return 0  # cannot exceed the limit; json.loads finds any other problem
    depth = deepest = 0
    in_string = False
    skip_at = -1  # position of a character escaped by a backslash inside a string
    for match in _STRUCTURE.finditer(text):
        position, char = match.start(), match.group()
        if position == skip_at:
            continue
        if in_string:
            if char == "\\":
                skip_at = position + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _parse_int(limit: int) -> Any:
    def parse(digits: str) -> int:
        if len(digits) > limit:
            raise _Refused(f"a number has more than {limit} digits")
        return int(digits)

    return parse


def _parse_float(limit: int) -> Any:
    def parse(text: str) -> float:
        if len(text) > limit:
            raise _Refused(f"a number has more than {limit} characters")
        return float(text)

    return parse


def _parse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value")


def _check_strings(value: Any, max_chars: int) -> None:
    """Every string in ``value`` (depth already bounded) is short enough and valid Unicode."""
    if isinstance(value, str):
        if len(value) > max_chars:
            raise _Refused(f"a string is longer than {max_chars} characters")
        if _SURROGATE.search(value):
            raise _Refused("a string contains a lone surrogate escape (not valid Unicode)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, max_chars)
            _check_strings(item, max_chars)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, max_chars)


def loads(
    body: bytes | str,
    *,
    max_depth: int = MAX_DEPTH,
    max_number_chars: int = MAX_NUMBER_CHARS,
    max_string_chars: int = MAX_STRING_CHARS,
    what: str = "body",
) -> Any:
    """``body`` parsed as JSON within the limits; ValidationError (400) naming the problem otherwise."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{what} is not UTF-8 (invalid byte at position {exc.start})") from None
    if text.startswith("\ufeff"):
        raise ValidationError(f"{what} starts with a byte-order mark; JSON must not")
    depth = nesting_depth(text, max_depth)
    if depth > max_depth:
        raise ValidationError(f"{what} is nested deeper than {max_depth} levels")
    try:
        value = json.loads(text, parse_int=_parse_int(max_number_chars), parse_float=_parse_float(max_number_chars),
                           parse_constant=_parse_constant)  # fmt: skip
        # json decodes \\uXXXX escapes only; unescaped surrogates cannot come from strict UTF-8
        if "\\u" in text or "\\U" in text or max_string_chars < len(text):
            _check_strings(value, max_string_chars)
    except _Refused as exc:
        raise ValidationError(f"{what} is refused: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{what} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:  # belt and braces: no parse failure may escape as a crash
        raise ValidationError(f"{what} is not acceptable JSON ({type(exc).__name__})") from None
    return value
