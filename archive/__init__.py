"""The archive: full-text search over stored articles, and re-matching them to the watch-list."""
