"""Failures that cannot succeed on retry: classify them, settle the hint, record the problem, tell the organiser.

DESIGN invariant 8. ``classify`` reads calsync's error tree (``retryable``) and says
how a hint's message is settled; ``handle_change`` (calsync.problems.service) is the
one service function the ``sync_change`` trigger calls.
"""
