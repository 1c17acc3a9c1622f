"""Onboarding a room (issue #12): pair what already exists on both sides, copy the rest, list conflicts, go live.

- ``pairing``: the pure decision (which Outlook event and which booking are one reservation);
- ``plan``: a room's plan from both sides' listings, its report rows, and what changed since;
- ``report``: the dry run's files (JSON, CSV) per room;
- ``apply``: executes exactly a plan (mappings for pairs, copies through the engine, the room goes live);
- ``progress``: the Onboarding table's progress rows, which the CLI follows;
- ``job``: the onboarding job on the "reconcile" queue (runs in Azure with the app's identity).
"""
