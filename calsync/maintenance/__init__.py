"""Keeping calsync converged when notifications fail: subscriptions, reconciliation, backfill, maintenance jobs.

- ``subscriptions``: every configured room keeps one live Graph subscription (create, renew, recreate, reauthorize).
- ``reconcile``: per-room Graph delta, the booking system's change feed, and the full compare -> ChangeHints.
- ``backfill``: the first sync of existing bookings (dry-run plan, then apply with progress).
- ``jobs``: the maintenance timer's run and the handling of one MaintenanceJob from the "reconcile" queue.

None of these modules import msgraph-sdk at import time; the Graph adapter is passed in.
"""
