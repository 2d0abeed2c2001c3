"""How the HTTP API reports errors: always JSON `{"error": "..."}` saying what to do.

This module owns the error body and the status codes the OpenAPI schema lists, the exception
handlers (a `BotError` keeps its own 4xx, a full queue adds Retry-After, a validation error
becomes one readable sentence per problem, a bug becomes a 500 without details), the message
for an error that happens after a stream has started, and the JSON 404/405 under `/api` and
`/v1`. It leaves out the routes themselves (`bot.api`, `bot.openai_api`) and the 413 for
over-large bodies (`bot.limits`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from bot.errors import BotError, BusyError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"
INTERNAL_ERROR = "Internal error while handling the request; the server log has the details."


class ErrorBody(BaseModel):
    """Every error response."""

    error: str = Field(description="What went wrong and what to do about it.")


#: The error responses every protected route can give, for the OpenAPI schema.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Malformed request (for example invalid JSON).",
        401: "Missing or wrong API key (when BOT_API_KEY is set).",
        413: "Request body too large.",
        422: "Well-formed but unusable input: empty or too long question, wrong field types.",
        503: "The server is busy; retry after the Retry-After seconds.",
    }.items()
}


def json_errors() -> dict[int | str, dict[str, Any]]:
    """`ERRORS` with their JSON media type spelled out, for a route whose success response is
    an event stream: FastAPI would otherwise list the errors under the stream's media type.
    The schema is a reference to `ErrorBody`, which the routes using `ERRORS` register."""
    schema = {"$ref": "#/components/schemas/ErrorBody"}
    return {
        code: {
            "description": entry["description"],
            "content": {"application/json": {"schema": schema}},
        }
        for code, entry in ERRORS.items()
    }


def public_message(exc: BaseException) -> str:
    """What a client may be told about `exc`: a `BotError`'s own message; for anything else
    (a bug) a fixed sentence, with the details in the server log."""
    if isinstance(exc, BotError):
        return str(exc)
    logger.error("unexpected error", exc_info=exc)
    return INTERNAL_ERROR


# --- exception handlers ------------------------------------------------------------------------
def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BotError, _bot_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def _bot_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BotError)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if isinstance(exc, BusyError) else None
    return JSONResponse({"error": str(exc)}, status_code=exc.status_code, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (detail.get("ctx") or {}).get("error", "JSON decode error")
        return JSONResponse(
            {"error": f"The request body is not valid JSON ({reason}). Send a JSON object."},
            status_code=400,
        )
    return JSONResponse({"error": describe_validation_errors(errors)}, status_code=422)


def describe_validation_errors(errors: list[Any]) -> str:
    """One readable sentence per problem, e.g. "history[0].role: Input should be 'user' or
    'assistant'". Input values are never echoed: they may be huge."""
    shown = []
    for error in errors[:5]:
        loc = [p for p in error.get("loc", ()) if p != "body"]
        kind = error.get("type", "")
        if error.get("loc", ())[:1] == ("body",) and not loc:
            if kind == "missing":
                shown.append("The request body is empty; send a JSON object")
            else:
                shown.append(
                    "The request body must be a JSON object, sent with "
                    "'Content-Type: application/json'"
                )
            continue
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        what = "is required" if kind == "missing" else f"{error.get('msg', 'is invalid')}"
        shown.append(f"{where or 'request'}: {what}")
    more = f" (and {len(errors) - 5} more problems)" if len(errors) > 5 else ""
    return "Invalid request: " + "; ".join(shown) + more + ". /docs describes every field."


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": INTERNAL_ERROR}, status_code=500)


# --- unknown paths -----------------------------------------------------------------------------
_ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def unknown_route_router(prefixes: Sequence[str], known: Sequence[APIRouter]) -> APIRouter:
    """Catch-all routes under each prefix answering a JSON 404, or a 405 naming the allowed
    methods when one of the `known` routers has the path. Without them the web UI, mounted
    at /, would answer an HTML page; include this router after the `known` ones."""
    router = APIRouter(include_in_schema=False)

    def unknown_route(request: Request, rest: str) -> JSONResponse:
        allowed = sorted(
            method
            for known_router in known
            for route in known_router.routes
            if isinstance(route, APIRoute) and route.path_regex.match(request.url.path)
            for method in route.methods
        )
        if allowed:
            return JSONResponse(
                {"error": f"{request.method} is not allowed here; use {', '.join(allowed)}."},
                status_code=405,
                headers={"Allow": ", ".join(allowed)},
            )
        return JSONResponse(
            {"error": f"No such endpoint: {request.url.path}. /docs lists the API."},
            status_code=404,
        )

    for prefix in prefixes:
        router.add_api_route(
            f"{prefix.rstrip('/')}/{{rest:path}}", unknown_route, methods=_ANY_METHOD
        )
    return router
