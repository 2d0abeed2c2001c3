"""HTTP routes: the JSON API, its Server-Sent Events stream and an OpenAI-compatible endpoint.

This module owns the wire: request and response shapes (Pydantic models, so `/docs` documents
every field), the API-key check, the request-size limit, and turning every error into a JSON
`{"error": "..."}` with a 4xx status (5xx only for a busy server, an unreachable backend or a
bug). Each route calls one `Service` method; answering and ingesting run in worker threads so
the event loop keeps serving other requests while a question is answered.

It leaves out the web UI, framing headers and process start-up (`bot.server`) and everything
about answering itself (`bot.service`, `bot.chain`).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as ASGIMessage

from bot.catalog import DocumentInfo
from bot.chain import Delta
from bot.config import Settings
from bot.errors import BotError, BusyError, InvalidQuestionError
from bot.ingest import IngestReport
from bot.service import Service
from bot.types import Answer, Citation, Turn

logger = logging.getLogger(__name__)

#: The one model `/v1/models` lists; requests may name any model and get this one.
MODEL_ID = "newsbot"
#: Largest JSON request body. A question is at most a few thousand characters; a long history
#: stays far below this.
MAX_JSON_BYTES = 1024 * 1024
#: Multipart framing around an uploaded file; the file itself is checked exactly by the service.
UPLOAD_OVERHEAD_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = "5"
INTERNAL_ERROR = "Internal error while handling the request; the server log has the details."


# --- request and response shapes ---------------------------------------------------------------
class Message(BaseModel):
    """One earlier turn of the conversation."""

    role: Literal["user", "assistant"] = Field(description="Who said it: 'user' or 'assistant'.")
    content: str = Field(description="What was said.")


class AskRequest(BaseModel):
    """A question, with the conversation so far."""

    question: str = Field(
        description="The question about the articles; at most BOT_MAX_QUESTION_CHARS characters.",
        examples=["Who brokered the 2020 ceasefire?"],
    )
    history: list[Message] = Field(
        default_factory=list,
        description="Earlier turns, oldest first, so follow-ups like 'How many did he send?' "
        "can be resolved. The server keeps no conversation state: send it with every request.",
    )

    def turns(self) -> list[Turn]:
        return _turns(self.history)


def _turns(messages: list[Message]) -> list[Turn]:
    return [Turn(m.role, m.content) for m in messages]


class FeedbackAnswer(BaseModel):
    """The Answer being rated, as `/api/ask` returned it (extra fields are kept)."""

    model_config = ConfigDict(extra="allow")

    text: str = Field(description="The answer text.")
    refused: bool = Field(False, description="Whether the bot said it could not find the answer.")
    standalone_question: str | None = Field(
        None, description="The question as searched (defaults to the question)."
    )
    citations: list[dict[str, Any]] = Field(
        default_factory=list, description="The answer's citations, as returned."
    )


class FeedbackRequest(BaseModel):
    """A thumbs up or down on one answer."""

    question: str = Field(min_length=1, description="The question that was asked.")
    answer: FeedbackAnswer = Field(description="The Answer JSON returned for it.")
    rating: Literal[1, -1] = Field(description="1 for thumbs up, -1 for thumbs down.")
    history: list[Message] = Field(
        default_factory=list, description="The conversation before the question."
    )
    comment: str = Field("", description="Optional free text from the user.")


class ChatContentPart(BaseModel):
    """One part of a message's content; only text parts are understood."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="'text' (other part types are rejected).")
    text: str | None = Field(None, description="The text of a 'text' part.")


class ChatMessage(BaseModel):
    """A message in the OpenAI chat format."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"] = Field(
        description="System and developer messages are ignored: answers follow the articles."
    )
    content: str | list[ChatContentPart] | None = Field(None, description="The message text.")


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat-completions request; sampling options are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(MODEL_ID, description=f"Any name; the answer comes from {MODEL_ID!r}.")
    messages: list[ChatMessage] = Field(
        min_length=1,
        description="The conversation; the last message must be the user's question and the "
        "earlier user and assistant messages are its history.",
    )
    stream: bool = Field(False, description="Stream chat.completion.chunk events (SSE).")


class ErrorBody(BaseModel):
    """Every error response."""

    error: str = Field(description="What went wrong and what to do about it.")


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatChoiceMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    """An OpenAI chat completion, plus the answer's citations."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    citations: list[Citation] = Field(
        description="The passages the answer cites; `[n]` in the text is `citations[n-1]`."
    )
    refused: bool = Field(description="True when the articles do not contain the answer.")


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


# --- dependencies ------------------------------------------------------------------------------
_bearer = HTTPBearer(auto_error=False, description="The server's BOT_API_KEY, when one is set.")


def get_service(request: Request) -> Service:
    return request.app.state.service


def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Let the request through if no API key is configured or the right one is presented."""
    key = request.app.state.settings.api_key
    if not key:
        return
    if credentials is None:
        raise HTTPException(
            401,
            "This API needs a key: send the header 'Authorization: Bearer KEY' with the server's "
            "BOT_API_KEY.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(credentials.credentials.encode(), key.encode()):
        raise HTTPException(
            401,
            "The API key is wrong: send 'Authorization: Bearer KEY' with the server's BOT_API_KEY.",
            headers={"WWW-Authenticate": "Bearer"},
        )


ServiceDep = Annotated[Service, Depends(get_service)]
public = APIRouter(responses={413: ERRORS[413]})
protected = APIRouter(dependencies=[Depends(require_api_key)], responses=ERRORS)


# --- answering ---------------------------------------------------------------------------------
@protected.post("/api/ask", response_model=Answer, tags=["answers"], summary="Answer a question")
def ask(body: AskRequest, service: ServiceDep) -> dict[str, Any]:
    """The checked answer with its citations. Runs in a worker thread."""
    return service.ask(body.question, body.turns()).to_dict()


@protected.post(
    "/api/ask/stream",
    tags=["answers"],
    summary="Answer a question, streamed as Server-Sent Events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "The event stream."}},
)
async def ask_stream(body: AskRequest, service: ServiceDep) -> StreamingResponse:
    """Events, in order: `delta` ({"text"}) for each piece of text, `citations` (a list),
    `answer` (the whole Answer; its text is authoritative), `done`. A failure after the stream
    started is an `error` event ({"error"}); bad input fails before it, with a 4xx."""
    events = await _start_stream(service, body.question, body.turns())

    async def sse() -> AsyncIterator[str]:
        try:
            async for event in events:
                if isinstance(event, Delta):
                    yield _sse("delta", {"text": event.text})
                else:
                    data = event.to_dict()
                    yield _sse("citations", data["citations"])
                    yield _sse("answer", data)
            yield _sse("done", {})
        except Exception as exc:  # the response has started: report in-band
            yield _sse("error", {"error": _message(exc)})

    return _event_stream(sse())


async def _start_stream(
    service: Service, question: str, history: list[Turn]
) -> AsyncIterator[Delta | Answer]:
    """Run the answer stream up to its first event before the response starts, so that bad
    input, a full queue or an empty index become ordinary HTTP errors, then iterate the rest
    in worker threads."""
    events = service.stream(question, history)
    first = await run_in_threadpool(next, events, None)

    async def rest() -> AsyncIterator[Delta | Answer]:
        try:
            if first is not None:
                yield first
            async for event in iterate_in_threadpool(events):
                yield event
        finally:
            # Frees the answering slot if the client went away. If a worker thread is still
            # inside the generator, it finishes there and the slot is freed when it is collected.
            with contextlib.suppress(ValueError):
                events.close()

    return rest()


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _event_stream(content: AsyncIterator[str]) -> StreamingResponse:
    # No caching, and no buffering by proxies (nginx honours X-Accel-Buffering).
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(content, media_type="text/event-stream", headers=headers)


# --- OpenAI-compatible -------------------------------------------------------------------------
@protected.post(
    "/v1/chat/completions",
    tags=["openai"],
    summary="OpenAI-compatible chat completion",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat_completions(body: ChatCompletionRequest, service: ServiceDep) -> Any:
    """Works with the official `openai` client (`base_url=http://HOST:PORT/v1`). The
    completion, and the final chunk when streaming, carry `citations` (and `refused`); the
    final chunk also carries the checked `text`, whose [n] match the citations' numbers."""
    question, history = split_chat_messages(body.messages)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if not body.stream:
        answer = await run_in_threadpool(service.ask, question, history)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_ID,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": "stop",
                }
            ],
            "citations": [asdict(c) for c in answer.citations],
            "refused": answer.refused,
        }

    events = await _start_stream(service, question, history)

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    async def sse() -> AsyncIterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        try:
            async for event in events:
                if isinstance(event, Delta):
                    yield chunk({"content": event.text})
                else:
                    data = event.to_dict()
                    yield chunk(
                        {},
                        "stop",
                        citations=data["citations"],
                        refused=data["refused"],
                        text=data["text"],
                    )
        except Exception as exc:  # the response has started: OpenAI's in-band error shape
            error = {"message": _message(exc), "type": type(exc).__name__}
            yield f"data: {json.dumps({'error': error}, ensure_ascii=False)}\n\n"
            return
        yield "data: [DONE]\n\n"

    return _event_stream(sse())


def split_chat_messages(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    """The question (the last message, which must be the user's) and the earlier user and
    assistant turns as history; system, developer and tool messages are left out."""
    turns: list[Turn] = []
    for i, message in enumerate(messages):
        if message.role not in ("user", "assistant"):
            continue
        turns.append(Turn(message.role, _chat_text(message, i)))
    if messages[-1].role != "user" or not turns:
        raise InvalidQuestionError("The last message must be the user's question (role 'user').")
    return turns[-1].content, turns[:-1]


def _chat_text(message: ChatMessage, i: int) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts = []
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise InvalidQuestionError(
                f"messages[{i}] has a {part.type!r} part; only text content is supported."
            )
        parts.append(part.text)
    return "\n".join(parts)


@protected.get("/v1/models", tags=["openai"], summary="The model this server answers with")
def list_models() -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "newsbot"}],
    }


# --- documents ---------------------------------------------------------------------------------
@protected.get(
    "/api/documents",
    response_model=list[DocumentInfo],
    tags=["documents"],
    summary="List the indexed documents",
)
def list_documents(service: ServiceDep) -> list[DocumentInfo]:
    return service.documents()


@protected.post(
    "/api/documents",
    response_model=IngestReport,
    tags=["documents"],
    summary="Upload and ingest one file",
    responses={415: {"model": ErrorBody, "description": "A file that cannot be ingested."}},
)
def upload_document(
    file: Annotated[
        UploadFile,
        File(
            description=".txt, .md, .html, .pdf or .jsonl (one article per line), at most "
            "BOT_MAX_UPLOAD_MB. Re-uploading an unchanged file changes nothing."
        ),
    ],
    service: ServiceDep,
) -> IngestReport:
    """Ingest the file in a worker thread; the report lists added, updated and unchanged ids."""
    return service.upload(file.filename or "", file.file.read())


@protected.delete(
    "/api/documents/{doc_id:path}",
    response_model=DocumentInfo,
    tags=["documents"],
    summary="Remove one document",
    responses={404: {"model": ErrorBody, "description": "No document with this id."}},
)
def remove_document(doc_id: str, service: ServiceDep) -> DocumentInfo:
    return service.remove(doc_id)


# --- feedback ----------------------------------------------------------------------------------
@protected.post("/api/feedback", tags=["feedback"], summary="Rate an answer")
def record_feedback(body: FeedbackRequest, service: ServiceDep) -> dict[str, Any]:
    """Appends the rating to the feedback log and returns the stored record."""
    return service.record_feedback(
        body.question,
        body.answer.model_dump(exclude_none=True),
        body.rating,
        _turns(body.history),
        body.comment,
    )


@protected.get(
    "/api/feedback/cases",
    tags=["feedback"],
    summary="Feedback as evaluation cases",
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def feedback_cases(
    service: ServiceDep,
    format: Annotated[
        Literal["json", "jsonl"],
        Query(description="'json' for a list, 'jsonl' for one case per line (`bot eval`)."),
    ] = "json",
) -> Any:
    """Thumbs-up answers become expected answers with their cited passages as gold;
    thumbs-down keep the question, marked `needs_review`."""
    cases = service.feedback_as_cases()
    if format == "json":
        return cases
    lines = "".join(json.dumps(case, ensure_ascii=False) + "\n" for case in cases)
    return PlainTextResponse(lines, media_type="application/x-ndjson")


# --- health and unknown paths ------------------------------------------------------------------
@public.get("/api/health", tags=["status"], summary="Index size and answering mode (no key)")
def health(service: ServiceDep) -> dict[str, Any]:
    return service.health()


_ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@public.api_route("/api/{rest:path}", methods=_ANY_METHOD, include_in_schema=False)
@public.api_route("/v1/{rest:path}", methods=_ANY_METHOD, include_in_schema=False)
def unknown_route(request: Request, rest: str) -> JSONResponse:
    """JSON 404 or 405 under /api and /v1, where the web UI (mounted at /) would answer HTML."""
    allowed = sorted(
        method
        for route in [*protected.routes, *public.routes]
        if isinstance(route, APIRoute) and route.endpoint is not unknown_route
        if route.path_regex.match(request.url.path)
        for method in route.methods
    )
    if allowed:
        return JSONResponse(
            {"error": f"{request.method} is not allowed here; use {', '.join(allowed)}."},
            status_code=405,
            headers={"Allow": ", ".join(allowed)},
        )
    return JSONResponse(
        {"error": f"No such endpoint: {request.url.path}. /docs lists the API."}, status_code=404
    )


# --- errors ------------------------------------------------------------------------------------
def _message(exc: BaseException) -> str:
    if isinstance(exc, BotError):
        return str(exc)
    logger.error("unexpected error", exc_info=exc)
    return INTERNAL_ERROR


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


# --- request size ------------------------------------------------------------------------------
class BodyTooLarge(HTTPException):
    """A request body over the limit for its endpoint."""


class BodyLimitMiddleware:
    """Reject /api and /v1 request bodies over their limit with 413, checking Content-Length
    first and then the bytes actually received (a chunked body has no length to check)."""

    def __init__(self, app: ASGIApp, upload_bytes: int, json_bytes: int = MAX_JSON_BYTES) -> None:
        self.app = app
        self.upload_bytes = upload_bytes
        self.json_bytes = json_bytes

    def _limit(self, scope: Scope) -> tuple[int, str] | None:
        path = scope["path"]
        if not path.startswith(("/api/", "/v1/")):
            return None  # the UI's own uploads are Gradio's business
        if path.rstrip("/") == "/api/documents" and scope["method"] == "POST":
            megabytes = self.upload_bytes // (1024 * 1024)
            return self.upload_bytes + UPLOAD_OVERHEAD_BYTES, (
                f"The upload is over the {megabytes} MB limit (BOT_MAX_UPLOAD_MB). Split the "
                "file, or ingest it on the server with `bot ingest`."
            )
        return self.json_bytes, (
            f"The request body is over the {self.json_bytes // 1024} KB limit. Send a shorter "
            "question or history."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._limit(scope) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        max_bytes, message = limit
        length = _content_length(scope)
        if length is not None and length > max_bytes:
            await JSONResponse({"error": message}, status_code=413)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> ASGIMessage:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > max_bytes:
                    # FastAPI turns this into a response through the HTTPException handler.
                    raise BodyTooLarge(413, message)
            return event

        async def tracked_send(event: ASGIMessage) -> None:
            nonlocal started
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await JSONResponse({"error": message}, status_code=413)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


# --- assembly ----------------------------------------------------------------------------------
def install_api(app: FastAPI, service: Service, settings: Settings) -> None:
    """Add the API's routes, error handlers, size limit and CORS policy to `app`."""
    app.state.service = service
    app.state.settings = settings
    app.include_router(protected)
    app.include_router(public)
    app.add_exception_handler(BotError, _bot_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_middleware(BodyLimitMiddleware, upload_bytes=settings.max_upload_mb * 1024 * 1024)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        # Bearer keys, not cookies: browsers on these origins may call the API with a key.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
