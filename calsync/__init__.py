"""calsync: keeps meeting-room bookings identical between Microsoft 365 room mailboxes and a booking system."""
