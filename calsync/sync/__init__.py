"""The sync engine: the pure decision (plan), the copy rules (translate), and the I/O that applies them."""
