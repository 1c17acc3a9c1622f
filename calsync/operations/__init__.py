"""What the operator commands do, as small async functions the CLI (and tests) call.

One module per area: ``status`` (per-room health), ``rooms`` (proposing ROOMS from both
sides), ``holds`` (the mass-deletion guard's room holds), ``dead_letters`` (listing and
replaying), ``subscriptions`` (stored Graph subscriptions and their time left), and
``store`` (opening Table Storage for a command). None of them prints: they return data
that calsync.cli renders, and raise calsync errors (ValidationError for operator input).
"""
