"""Pure parsing of what sources send: feeds, sitemaps, pages, URLs, language, near-duplicates."""
