"""Distributed mode: workers sharing one Redis frontier, a poll ledger and one article store."""
