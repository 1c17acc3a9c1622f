"""Graph's event JSON as calsync's own pydantic models: only the fields calsync reads or writes.

Why not msgraph-sdk's ``Event``: kiota parses a model by asking each class for its
field deserializers, and ``Entity.get_field_deserializers`` runs ~1,200 imports on
every call (about 9 ms per event, issue #16). These models are parsed in one pass by
pydantic-core straight from the response bytes (``parse_event``: some 30 us), and
written with ``to_json`` (camelCase by alias, unset fields left out).

Names follow msgraph-sdk's snake_case attributes (``event.start.date_time``,
``event.show_as``), so the mapping reads the same either way; enum-valued fields are
plain strings here (Graph adds values over time, e.g. ``unknownFutureValue``), and
the StrEnums below name the values calsync acts on.

Reference: the event resource type, https://learn.microsoft.com/graph/api/resources/event,
and patternedRecurrence, https://learn.microsoft.com/graph/api/resources/patternedrecurrence.

Parse failures are calsync errors: a body that is not JSON (a 200 ``text/html`` from
a proxy, a truncated body, nesting deeper than pydantic-core's recursion limit, a
number out of range) is ``TransientError`` (retryable: another attempt may get a real
answer); JSON whose content does not fit (a bad dateTime, a wrong type) is
``ValidationError`` (not retryable: Graph will say the same again).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import pydantic
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from pydantic.alias_generators import to_camel

from calsync.errors import SideError, TransientError, ValidationError

SIDE = "outlook"


class DayOfWeek(StrEnum):
    Sunday = "sunday"
    Monday = "monday"
    Tuesday = "tuesday"
    Wednesday = "wednesday"
    Thursday = "thursday"
    Friday = "friday"
    Saturday = "saturday"


class WeekIndex(StrEnum):
    First = "first"
    Second = "second"
    Third = "third"
    Fourth = "fourth"
    Last = "last"


class RecurrencePatternType(StrEnum):
    Daily = "daily"
    Weekly = "weekly"
    AbsoluteMonthly = "absoluteMonthly"
    RelativeMonthly = "relativeMonthly"
    AbsoluteYearly = "absoluteYearly"
    RelativeYearly = "relativeYearly"


class RecurrenceRangeType(StrEnum):
    EndDate = "endDate"
    NoEnd = "noEnd"
    Numbered = "numbered"


class EventType(StrEnum):
    SingleInstance = "singleInstance"
    Occurrence = "occurrence"
    Exception = "exception"
    SeriesMaster = "seriesMaster"


class FreeBusyStatus(StrEnum):
    Unknown = "unknown"
    Free = "free"
    Tentative = "tentative"
    Busy = "busy"
    Oof = "oof"
    WorkingElsewhere = "workingElsewhere"


class Sensitivity(StrEnum):
    Normal = "normal"
    Personal = "personal"
    Private = "private"
    Confidential = "confidential"


class _Wire(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")
    _nulls: set[str] = PrivateAttr(default_factory=set)

    def clear(self, name: str) -> None:
        """Send ``name`` as JSON null (e.g. ``recurrence``: a series turned into a single event)."""
        setattr(self, name, None)
        self._nulls.add(name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object to send: set fields by alias, None left out unless ``clear``ed."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for name in self._nulls:
            data[type(self).model_fields[name].alias or name] = None
        return data


class DateTimeTimeZone(_Wire):
    date_time: str | None = None
    time_zone: str | None = None


class EmailAddress(_Wire):
    name: str | None = None
    address: str | None = None


class Recipient(_Wire):
    email_address: EmailAddress | None = None


class ResponseStatus(_Wire):
    response: str | None = None


class Attendee(_Wire):
    type: str | None = None  # required, optional, resource
    email_address: EmailAddress | None = None
    status: ResponseStatus | None = None


class ItemBody(_Wire):
    content_type: str | None = None
    content: str | None = None


class RecurrencePattern(_Wire):
    type: str | None = None
    interval: int | None = None
    month: int | None = None
    day_of_month: int | None = None
    days_of_week: list[str] | None = None
    first_day_of_week: str | None = None
    index: str | None = None


class RecurrenceRange(_Wire):
    type: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    recurrence_time_zone: str | None = None
    number_of_occurrences: int | None = None


class PatternedRecurrence(_Wire):
    pattern: RecurrencePattern | None = None
    range: RecurrenceRange | None = None


class ExtendedProperty(_Wire):
    """A singleValueLegacyExtendedProperty (calsync's stamp)."""

    id: str | None = None
    value: str | None = None


class GraphEvent(_Wire):
    """The fields of Graph's event resource that calsync reads or writes."""

    id: str | None = None
    change_key: str | None = None
    odata_etag: str | None = Field(default=None, alias="@odata.etag")
    removed: dict[str, Any] | None = Field(default=None, alias="@removed")
    type: str | None = None
    subject: str | None = None
    start: DateTimeTimeZone | None = None
    end: DateTimeTimeZone | None = None
    is_all_day: bool | None = None
    is_cancelled: bool | None = None
    sensitivity: str | None = None
    show_as: str | None = None
    organizer: Recipient | None = None
    categories: list[str] | None = None
    original_start_time_zone: str | None = None
    original_end_time_zone: str | None = None
    recurrence: PatternedRecurrence | None = None
    series_master_id: str | None = None
    original_start: dt.datetime | None = None
    occurrence_id: str | None = None
    cancelled_occurrences: list[str] | None = None
    exception_occurrences: list[GraphEvent] | None = None
    response_status: ResponseStatus | None = None
    is_organizer: bool | None = None  # False: the room's copy of a meeting someone else organises (EXCHANGE.md)
    i_cal_uid: str | None = Field(default=None, alias="iCalUId")
    created_date_time: dt.datetime | None = None
    last_modified_date_time: dt.datetime | None = None
    single_value_extended_properties: list[ExtendedProperty] | None = None
    transaction_id: str | None = None
    attendees: list[Attendee] | None = None  # written for service-mailbox meetings; read only there
    body: ItemBody | None = None


class _Page(BaseModel):
    """A collection page: items kept as JSON values, so one bad item does not sink the page."""

    model_config = ConfigDict(extra="ignore")
    value: list[Any] = Field(default_factory=list)
    next_link: str | None = Field(default=None, alias="@odata.nextLink")
    delta_link: str | None = Field(default=None, alias="@odata.deltaLink")


def _failure(exc: pydantic.ValidationError, what: str) -> SideError | ValidationError:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    if any(e["type"] == "json_invalid" for e in exc.errors(include_url=False, include_input=False)):
        return TransientError(f"Graph {what} is not valid JSON: {first['msg']}", side=SIDE, status=200)
    return ValidationError(f"Graph {what} has an invalid {where}: {first['msg']}", side=SIDE, field=where)


def parse_event(data: bytes | str | dict[str, Any]) -> GraphEvent:
    """One event from Graph JSON (bytes, text or an already decoded object).

    Raises TransientError (not JSON / not an object) or ValidationError (a field does not fit).
    """
    try:
        if isinstance(data, dict):
            return GraphEvent.model_validate(data)
        if isinstance(data, str):
            data = data.encode()
        if not data.strip():
            raise TransientError("Graph event body is empty", side=SIDE, status=200)
        return GraphEvent.model_validate_json(data)
    except pydantic.ValidationError as exc:
        if exc.errors(include_url=False)[0]["type"] == "model_type":
            raise TransientError("Graph event body is not a JSON object", side=SIDE, status=200) from None
        raise _failure(exc, "event") from None


def parse_recurrence(data: bytes | str | dict[str, Any]) -> PatternedRecurrence:
    try:
        if isinstance(data, dict):
            return PatternedRecurrence.model_validate(data)
        return PatternedRecurrence.model_validate_json(data)
    except pydantic.ValidationError as exc:
        raise _failure(exc, "recurrence") from None


def parse_page(data: bytes, what: str = "page") -> _Page:
    """A collection page with its items still as JSON values (validate them with ``parse_items``)."""
    if not data.strip():
        raise TransientError(f"Graph {what} body is empty", side=SIDE, status=200)
    try:
        return _Page.model_validate_json(data)
    except pydantic.ValidationError as exc:
        raise _failure(exc, what) from None


def parse_items(values: list[Any], what: str = "item") -> tuple[list[GraphEvent], list[ValidationError]]:
    """Each JSON value of a page as a GraphEvent; the ones that do not fit are returned as errors, not raised."""
    good: list[GraphEvent] = []
    bad: list[ValidationError] = []
    for value in values:
        try:
            good.append(GraphEvent.model_validate(value))
        except pydantic.ValidationError as exc:
            error = _failure(exc, what)
            ident = value.get("id") if isinstance(value, dict) else None
            bad.append(ValidationError(f"{error} (id {str(ident)[:80]!r})", side=SIDE, item_id=ident))
    return good, bad


def to_json(model: _Wire) -> bytes:
    """The body to send for ``model`` (see ``_Wire.to_dict``)."""
    return pydantic_core.to_json(model.to_dict())
