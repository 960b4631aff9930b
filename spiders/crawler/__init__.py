"""The Scrapy crawler: the news spider, its middlewares and settings, and the article store."""
