"""Backfill: the archive filled with the past (the GDELT article list, walked in windows)."""
