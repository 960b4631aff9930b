"""Polls: how each one is recorded, and when a source is due again (the adaptive policy)."""
