"""Security headers and CORS on the assembled app (API, login page, all three Gradio apps),
in process around `tests.helpers.FakeService`. tests/test_browser.py checks in Chromium that
the pages still work under this policy and fails on any CSP violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.headers import content_security_policy
from bot.server import create_app

from .helpers import FakeService

PORTAL = "https://portal.example.org"
PAGES = ["/", "/embed/", "/admin/", "/login", "/docs", "/config", "/embed/config"]


def client(tmp_path: Path, **settings: Any) -> TestClient:
    config = Settings.from_env(
        {}, data_dir=tmp_path / "data", frame_ancestors=f"'self' {PORTAL}", **settings
    )
    return TestClient(create_app(config, FakeService()), follow_redirects=False)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", [*PAGES, "/api/health", "/api/nothing", "/static-offline-docs/x"])
def test_every_response_has_a_csp_with_default_src_and_nosniff(tmp_path: Path, path: str) -> None:
    response = client(tmp_path).get(path)
    policy = response.headers["content-security-policy"]
    api = path.startswith("/api/")
    assert policy.startswith("default-src 'none'" if api else "default-src 'self'")
    assert "object-src 'none'" in policy or api
    assert "http" not in policy.replace(PORTAL, "")  # no other host, for anything
    assert response.headers["x-content-type-options"] == "nosniff"


def test_only_the_embed_page_may_be_framed_by_other_sites(tmp_path: Path) -> None:
    web = client(tmp_path)
    embed = web.get("/embed/")
    assert embed.headers["content-security-policy"].endswith(f"frame-ancestors 'self' {PORTAL}")
    assert "x-frame-options" not in embed.headers
    for path in ("/", "/admin/", "/login", "/api/health"):
        response = web.get(path)
        assert response.headers["content-security-policy"].endswith("frame-ancestors 'self'")
        assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert content_security_policy("/embed/login", PORTAL).endswith(f"frame-ancestors {PORTAL}")


def preflight(web: TestClient, path: str, origin: str) -> Any:
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    return web.options(path, headers=headers)


@pytest.mark.parametrize("path", ["/gradio_api/queue/join", "/embed/gradio_api/upload", "/api/ask"])
def test_without_bot_cors_origins_no_origin_gets_cors(tmp_path: Path, path: str) -> None:
    """Gradio's own CORS handling would answer any http://localhost:* with credentials."""
    web = client(tmp_path)
    for response in (
        preflight(web, path, "http://localhost:1234"),
        web.get("/config", headers={"Origin": "http://localhost:1234"}),
    ):
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers


def test_configured_origins_get_cors_without_credentials(tmp_path: Path) -> None:
    web = client(tmp_path, cors_origins=PORTAL)
    allowed = preflight(web, "/api/ask", PORTAL)
    assert allowed.headers["access-control-allow-origin"] == PORTAL
    assert "access-control-allow-credentials" not in allowed.headers
    other = preflight(web, "/gradio_api/queue/join", "http://localhost:1234")
    assert "access-control-allow-origin" not in other.headers
