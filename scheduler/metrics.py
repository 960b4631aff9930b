"""Health and Prometheus metrics, served on localhost when ``[service] http`` is set."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

logger = logging.getLogger(__name__)


class ServiceMetrics:
    """The service's metrics, in a registry of their own (no global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("mediawatch_polls", "Source polls by result", ["status"], registry=r)
        self.articles = Counter("mediawatch_articles_stored", "Articles stored", registry=r)
        self.crawls = Counter("mediawatch_crawls", "Crawl runs by outcome", ["outcome"], registry=r)
        self.crawl_seconds = Histogram(
            "mediawatch_crawl_duration_seconds",
            "Duration of crawl runs",
            registry=r,
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600),
        )
        self.queue_lag = Gauge(
            "mediawatch_queue_lag_seconds", "How late the most overdue source is", registry=r
        )
        self.poll_lag = Histogram(
            "mediawatch_poll_lag_seconds",
            "Due time to crawl start, per due source",
            registry=r,
            buckets=(1, 5, 15, 30, 60, 120, 300, 900, 3600),
        )
        self.due_sources = Gauge(
            "mediawatch_due_sources", "Sources due at the last tick", registry=r
        )
        self.unhealthy = Gauge(
            "mediawatch_unhealthy_sources", "Sources marked unhealthy", registry=r
        )
        self.alerts_sent = Counter("mediawatch_alerts_sent", "Alert messages delivered", registry=r)
        self.alerts_failed = Counter(
            "mediawatch_alerts_failed",
            "Alert messages given up on (refused by their channel, or its channel is gone)",
            registry=r,
        )
        self.job_errors = Counter(
            "mediawatch_job_errors", "Job runs that failed", ["job"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


def serve_health(
    address: str, metrics: ServiceMetrics, health: Callable[[], dict[str, Any]]
) -> ThreadingHTTPServer:
    """Serve ``/healthz`` (JSON, 200 when healthy, 503 when not) and ``/metrics``."""
    host, _, port = address.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._reply(200, metrics.render(), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                state = health()
                body = json.dumps(state).encode()
                self._reply(200 if state.get("ok") else 503, body, "application/json")
            else:
                self._reply(404, b"not found\n", "text/plain")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("health http: " + format, *args)

    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health-http", daemon=True).start()
    logger.info(
        "health on http://%s:%s/healthz and /metrics", host or "127.0.0.1", server.server_port
    )
    return server
