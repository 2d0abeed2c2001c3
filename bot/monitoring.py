"""`/metrics`: the server's metrics in Prometheus' text format.

- Requests and latency by route, from `prometheus-fastapi-instrumentator`. It labels each
  request with its route's template (`/api/documents/{doc_id:path}`, not every id). Gradio's
  pages count under their mount point, and unknown paths count under `none`.
  `http_requests_total{handler,method,status}`, `http_request_duration_seconds{handler,method}`
  (histogram), plus request and response sizes.
- Answers by outcome: `newsbot_answers_total{outcome="answered"|"refused"|"failed"}`.
- `newsbot_answers_waiting`: requests waiting for an answering slot.
- Index sizes: `newsbot_index_documents`, `newsbot_index_passages`, `newsbot_index_vectors`.
  The last is left out while the vector store cannot be reached. `newsbot_index_consistent`
  is 1 while passages and vectors agree.

Every app gets a registry of its own, so building several apps in one process (the tests do)
never registers a metric twice. The answer and index figures are read from the `Service`
when Prometheus scrapes, so they cost nothing between scrapes. Like `/api/health`, `/metrics`
needs no API key: it shows counts, never documents, questions or feedback. This module leaves
out the logs (`bot.logs`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.service import Service

METRICS_PATH = "/metrics"


class ServiceCollector(Collector):
    """Answer counts and index sizes, read from the service at each scrape."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        stats = self.service.stats()
        answers = CounterMetricFamily(
            "newsbot_answers", "Answers given, by outcome.", labels=["outcome"]
        )
        for outcome, count in stats["answers"].items():
            answers.add_metric([outcome], count)
        yield answers
        yield GaugeMetricFamily(
            "newsbot_answers_waiting",
            "Requests waiting for an answering slot.",
            value=stats["waiting"],
        )
        for name, what in (
            ("documents", "Documents in the catalog."),
            ("passages", "Passages in the catalog (and the keyword index)."),
            ("vectors", "Vectors in the vector store."),
        ):
            if stats[name] is not None:
                yield GaugeMetricFamily(f"newsbot_index_{name}", what, value=stats[name])
        yield GaugeMetricFamily(
            "newsbot_index_consistent",
            "1 while the catalog's passages and the store's vectors agree, else 0.",
            value=int(stats["vectors_agree"]),
        )


def install_metrics(app: FastAPI, service: Service) -> CollectorRegistry:
    """Count every request of `app` and serve `/metrics`; returns the app's registry."""
    from prometheus_fastapi_instrumentator import Instrumentator

    registry = CollectorRegistry()
    registry.register(ServiceCollector(service))
    instrumentator = Instrumentator(
        registry=registry,
        excluded_handlers=[METRICS_PATH],
        should_group_status_codes=False,  # 401 and 404 tell different stories
    )
    instrumentator.instrument(app).expose(app, endpoint=METRICS_PATH, include_in_schema=False)
    return registry
