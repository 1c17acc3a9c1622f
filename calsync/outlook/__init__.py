"""The Outlook side: Microsoft Graph events and how they map to calsync's canonical Booking.

zones (Windows <-> IANA zone names), serialization (JSON <-> msgraph-sdk models),
patterns (Graph patternedRecurrence <-> RRULE) and event_mapping (Event <-> Booking)
are pure; the Graph adapter does the I/O.
"""
