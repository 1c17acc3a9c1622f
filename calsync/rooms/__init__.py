"""The rooms registry: which rooms calsync knows, and in which state each is (issue #12).

- ``state``: ``RoomState`` (pending -> onboarding -> live -> paused) and the one rule that
  says whether calsync may write for a room (``admits``);
- ``calsync.store.rooms``: the rows in Table Storage (``RoomRecord``, ``RoomStore``);
- ``directory``: ``RoomDirectory``, the registry as everybody reads it (cached, seeded
  from the ROOMS setting for small installs);
- ``gate``: the one call the engine, webhooks and maintenance make before acting on a room;
- ``csv_rooms``: ``calsync rooms import rooms.csv``'s file format.
"""
