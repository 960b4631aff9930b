"""The watch-list: the normaliser, terms, the query language and the matcher of articles."""
