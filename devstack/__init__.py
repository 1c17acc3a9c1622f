"""Loopback stand-ins for what calsync talks to: Azurite (launched), Graph and the booking system (served)."""
