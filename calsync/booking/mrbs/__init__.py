"""The MRBS backend: calsync's BookingSystem over MRBS's own database (docs/booking-mrbs.md).

Modules, one job each:

- ``schema``: MRBS's tables (as MRBS defines them, with its prefix) and calsync's three own tables.
- ``repeat_rule``: a ``repeat`` row <-> calsync's RRULE, and MRBS's expansion of it (pure).
- ``mapping``: ``entry``/``repeat`` rows <-> the canonical Booking, booking ids, versions (pure).
- ``system``: ``MrbsBookingSystem``, the BookingSystem Protocol (reads, writes, conflicts).
- ``triggers``: the outbox table and the triggers that feed it (PostgreSQL and MySQL DDL).
- ``poller``: outbox rows -> ChangeHints, with a cursor in Table Storage, and LISTEN/NOTIFY.
"""
