"""`/metrics`: requests and latency by route, answers by outcome and index sizes, read from
a real `Service` over a small index (answers canned, refusing questions about France)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.chain import Delta
from bot.config import Settings
from bot.embeddings import Embedder
from bot.index import Index
from bot.ingest import ingest_documents
from bot.server import create_app
from bot.service import Service
from bot.types import Answer, Document

from .helpers import CannedBot, canned_answer


class RefusingBot(CannedBot):
    """Canned answers, refused when the question is about France."""

    def answer(self, question: str, history: Any = None) -> Answer:
        return replace(canned_answer(question), refused="France" in question)

    def stream(self, question: str, history: Any = None) -> Iterator[Delta | Answer]:
        yield Delta("Canned ")
        yield self.answer(question, history)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, for every sample of a /metrics body."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def client(settings: Settings, embedder: Embedder) -> Iterator[TestClient]:
    index = Index(settings, embedder)
    text = "The delegates met in Geneva for three days of talks about the border.\n\n" * 1
    ingest_documents(index, [Document("geneva", "Geneva talks", text, "g.txt")])
    service = Service(settings, RefusingBot(index))  # type: ignore[arg-type]
    with TestClient(create_app(settings, service, with_ui=False)) as test_client:
        yield test_client
    index.close()


def test_metrics_count_requests_by_route_answers_by_outcome_and_the_index(
    client: TestClient,
) -> None:
    for question in ("Who met?", "Where did they meet?", "What is the capital of France?"):
        assert client.post("/api/ask", json={"question": question}).status_code == 200
    assert client.post("/api/ask/stream", json={"question": "Who met?"}).status_code == 200
    assert client.post("/api/ask", json={"question": ""}).status_code == 422
    assert client.delete("/api/documents/no-such-doc").status_code == 404
    health = client.get("/api/health").json()

    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("newsbot_answers_total", (("outcome", "answered"),))] == 3  # 2 asked, 1 streamed
    assert got[("newsbot_answers_total", (("outcome", "refused"),))] == 1
    assert got[("newsbot_answers_total", (("outcome", "failed"),))] == 0
    assert got[("newsbot_index_documents", ())] == health["documents"] == 1
    assert got[("newsbot_index_passages", ())] == health["passages"] == 1
    assert got[("newsbot_index_vectors", ())] == health["vectors"] == 1
    assert got[("newsbot_index_consistent", ())] == 1
    asked = (("handler", "/api/ask"), ("method", "POST"), ("status", "200"))
    assert got[("http_requests_total", asked)] == 3
    refused = (("handler", "/api/ask"), ("method", "POST"), ("status", "422"))
    assert got[("http_requests_total", refused)] == 1
    missing = (("handler", "/api/documents/{doc_id:path}"), ("method", "DELETE"), ("status", "404"))
    assert got[("http_requests_total", missing)] == 1  # by route template, not by id
    latency = (("handler", "/api/ask"), ("method", "POST"))
    assert got[("http_request_duration_seconds_count", latency)] == 4
    assert not any(
        name == "http_requests_total" and ("handler", "/metrics") in labels for name, labels in got
    )


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    first, second = client.get("/api/health"), client.get("/api/health")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    kept = client.get("/api/health", headers={"X-Request-ID": "lb-1234.abc"})
    assert kept.headers["x-request-id"] == "lb-1234.abc"
    replaced = client.get("/api/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"
