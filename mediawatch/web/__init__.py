"""The analyst's desk: server-rendered pages, the JSON API and Atom feeds over the archive."""
