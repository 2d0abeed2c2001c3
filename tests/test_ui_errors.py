"""Gradio's routes answer bad requests with a 4xx: `UIErrorsMiddleware` around a stand-in for
a mounted Gradio app (a FastAPI app of its own, whose error middleware sends a 500 and then
re-raises, as Gradio's does). tests/test_api.py sends the requests of issue 11 to the real
server, and tests/test_auth.py calls every Gradio route by name."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from bot.ui_errors import BAD_REQUEST, NOT_FOUND, UIErrorsMiddleware


def client() -> TestClient:
    inner = FastAPI()

    @inner.get("/gradio_api/lookup")
    def lookup() -> None:
        raise KeyError("/respond_1")

    @inner.get("/gradio_api/value")
    def value() -> None:
        raise ValueError("embedded null byte")

    @inner.get("/gradio_api/fault")
    def fault() -> None:
        raise RuntimeError("the disk is on fire")

    @inner.post("/gradio_api/run/respond")
    def run() -> JSONResponse:
        return JSONResponse({"error": "An event handler (respond) needs 2 inputs."}, 500)

    @inner.get("/gradio_api/plain500")
    def plain() -> JSONResponse:
        return JSONResponse({"error": "kept"}, 500)

    @inner.get("/fine")
    def fine() -> dict[str, str]:
        return {"ok": "yes"}

    outer = FastAPI()
    outer.mount("/embed", inner)
    outer.add_middleware(UIErrorsMiddleware)
    return TestClient(outer, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [("/embed/gradio_api/lookup", 404, NOT_FOUND), ("/embed/gradio_api/value", 400, BAD_REQUEST)],
)
def test_a_request_gradio_cannot_parse_is_a_json_4xx(path: str, status: int, error: str) -> None:
    response = client().get(path)
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_a_failed_synchronous_call_is_a_400_with_gradios_message() -> None:
    response = client().post("/embed/gradio_api/run/respond")
    assert response.status_code == 400
    assert response.json() == {"error": "An event handler (respond) needs 2 inputs."}


def test_a_fault_of_the_server_stays_a_500() -> None:
    assert client().get("/embed/gradio_api/fault").status_code == 500
    plain = client().get("/embed/gradio_api/plain500")
    assert (plain.status_code, plain.json()) == (500, {"error": "kept"})


def test_everything_else_passes_unchanged() -> None:
    assert client().get("/embed/fine").json() == {"ok": "yes"}
