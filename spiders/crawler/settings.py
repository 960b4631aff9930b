"""Scrapy settings from ``[crawl]``: polite, bounded and safe by construction."""

from __future__ import annotations

import logging
from typing import Any

from config.models import CrawlConfig
from spiders.crawler.politeness import MAX_RETRY_AFTER_SETTING
from spiders.crawler.safety import SETTING as ALLOW_PRIVATE_SETTING
from spiders.crawler.tls import CA_FILES_SETTING, allow_custom_factory, ca_files
from spiders.crawler.tls import FACTORY as TLS_FACTORY
from spiders.parsing.canonical import MAX_URL_LENGTH

logger = logging.getLogger(__name__)

_MW = "scrapy.downloadermiddlewares"


def user_agent(crawl: CrawlConfig) -> str:
    """An honest User-Agent: who we are and where to complain."""
    return f"{crawl.user_agent} (+{crawl.contact_url})"


def crawler_settings(crawl: CrawlConfig, *, log_level: int | None = None) -> dict[str, Any]:
    """The settings of every crawl. Per-source robots.txt opt-out is the request meta
    flag ``dont_obey_robotstxt``, which Scrapy's RobotsTxtMiddleware honours."""
    allow_custom_factory()
    timeout = crawl.timeout.total_seconds()
    level = log_level if log_level is not None else logging.getLogger().getEffectiveLevel()
    return {
        "BOT_NAME": "mediawatch",
        "USER_AGENT": user_agent(crawl),
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "ROBOTSTXT_USER_AGENT": crawl.user_agent.split("/")[0],
        # Politeness: per-domain concurrency and delay, adapted to the server's latency.
        "CONCURRENT_REQUESTS": crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
        "DOWNLOAD_DELAY": crawl.delay.total_seconds(),
        "DOWNLOAD_DELAY_JITTER": 0.5,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": crawl.delay.total_seconds(),
        "AUTOTHROTTLE_MAX_DELAY": max(60.0, timeout),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrency_per_domain),
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 1,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        MAX_RETRY_AFTER_SETTING: min(30.0, timeout),
        # Bounds on every request: time, size (decompressed too), redirects.
        "DOWNLOAD_TIMEOUT": timeout,
        "DNS_TIMEOUT": min(60.0, timeout),
        "DOWNLOAD_MAXSIZE": crawl.max_response_bytes,
        "DOWNLOAD_WARNSIZE": max(1, crawl.max_response_bytes // 2),
        "REDIRECT_MAX_TIMES": crawl.max_redirects,
        "URLLENGTH_LIMIT": MAX_URL_LENGTH,  # the spider skips longer links itself, with a reason
        "METAREFRESH_ENABLED": False,
        "DOWNLOAD_FAIL_ON_DATALOSS": False,
        # Safety: only http(s), and the SSRF guard on every request, hop and resolution.
        ALLOW_PRIVATE_SETTING: crawl.allow_private_networks,
        "DOWNLOAD_HANDLERS": {"file": None, "s3": None, "ftp": None, "data": None},
        "TWISTED_DNS_RESOLVER": "spiders.crawler.safety.GuardedResolver",
        # Verified TLS: the system's CAs, plus [crawl] ca_bundle and $SSL_CERT_FILE.
        "DOWNLOADER_CLIENTCONTEXTFACTORY": TLS_FACTORY,
        CA_FILES_SETTING: ca_files(crawl.ca_bundle),
        "DOWNLOADER_MIDDLEWARES": {
            "spiders.crawler.safety.SsrfGuardMiddleware": 90,
            "spiders.crawler.safety.RefusalReasonMiddleware": 990,  # before retries see the error
            f"{_MW}.redirect.RedirectMiddleware": None,
            "spiders.crawler.safety.SafeRedirectMiddleware": 600,
            "spiders.crawler.politeness.RetryAfterMiddleware": 560,
            f"{_MW}.offsite.OffsiteMiddleware": None,
        },
        "ITEM_PIPELINES": {"spiders.crawler.store_pipeline.StorePipeline": 300},
        # Quiet and self-contained: no telnet, no cookies, logs through ours.
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "LOG_LEVEL": logging.getLevelName(max(level, logging.WARNING)),
        "LOG_ENABLED": True,
        "LOGSTATS_INTERVAL": 0,
        "STATS_DUMP": False,
        "HTTPCACHE_ENABLED": False,
    }
