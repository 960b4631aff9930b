"""Logging: one set-up for every command, and secrets masked in every record."""
