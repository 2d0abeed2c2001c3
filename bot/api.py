"""The JSON API under `/api`: answers (whole, or streamed as Server-Sent Events), documents,
feedback and health.

This module owns these routes and their request shapes (Pydantic models, so `/docs`
documents every field). Each route calls one `Service` method; answering and ingesting run in
worker threads so the event loop keeps serving other requests while a question is answered.
Changing documents and reading feedback are admin routes (`require_admin`: the API key's
holder); an upload carries exactly one `file` field. It leaves out the OpenAI-compatible `/v1`
routes (`bot.openai_api`), what the routes share (`bot.api_deps`: service, API key, admin
check, stream start; `bot.api_errors`: every error as JSON), the body-size limit
(`bot.limits`) and the assembly of the app (`bot.server`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import PlainTextResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field

from bot.api_deps import ServiceDep, require_admin, require_api_key, start_answer_stream
from bot.api_errors import ERRORS, ErrorBody, json_errors, public_message
from bot.catalog import DocumentInfo
from bot.chain import Delta
from bot.errors import InvalidRequestError
from bot.ingest import IngestReport
from bot.types import Answer, Turn

#: Where documents are uploaded; it gets the upload size limit instead of the JSON one.
UPLOAD_PATH = "/api/documents"

router = APIRouter(dependencies=[Depends(require_api_key)], responses=ERRORS)
#: Routes without the API key: a load balancer's health check needs none.
public = APIRouter(responses={413: ERRORS[413]})


#: The 403 of the admin routes, for the OpenAPI schema.
ADMIN_ONLY = {
    "model": ErrorBody,
    "description": "No BOT_API_KEY on a server with a web login: admin routes stay shut.",
}


# --- request shapes ------------------------------------------------------------------------------
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


# --- answering ---------------------------------------------------------------------------------
@router.post("/api/ask", response_model=Answer, tags=["answers"], summary="Answer a question")
def ask(body: AskRequest, service: ServiceDep) -> dict[str, Any]:
    """The checked answer with its citations. Runs in a worker thread."""
    return service.ask(body.question, body.turns()).to_dict()


async def answer_events(
    body: AskRequest, service: ServiceDep
) -> AsyncIterator[AsyncGenerator[Delta | Answer, None]]:
    """The answer stream, started before the response, so that bad input is an ordinary 4xx,
    and closed after it. FastAPI leaves a streaming route's generator suspended when the client
    goes away; closing the stream here frees the answering slot at once all the same."""
    events = await start_answer_stream(service, body.question, body.turns())
    try:
        yield events
    finally:
        await events.aclose()


@router.post(
    "/api/ask/stream",
    tags=["answers"],
    summary="Answer a question, streamed as Server-Sent Events",
    response_class=EventSourceResponse,
    responses={200: {"description": "The event stream."}, **json_errors()},
)
async def ask_stream(
    events: Annotated[AsyncGenerator[Delta | Answer, None], Depends(answer_events)],
) -> AsyncIterator[ServerSentEvent]:
    """Events, in order: `delta` ({"text"}) for each piece of text, `citations` (a list),
    `answer` (the whole Answer; its text is authoritative), `done`. A failure after the stream
    started is an `error` event ({"error"}); bad input fails before it, with a 4xx."""
    try:
        async for event in events:
            if isinstance(event, Delta):
                yield _event("delta", {"text": event.text})
            else:
                data = event.to_dict()
                yield _event("citations", data["citations"])
                yield _event("answer", data)
        yield _event("done", {})
    except Exception as exc:  # the response has started: report in-band
        yield _event("error", {"error": public_message(exc)})


def _event(name: str, data: Any) -> ServerSentEvent:
    # raw_data: our own JSON, so non-ASCII text travels as UTF-8 rather than \u escapes.
    return ServerSentEvent(event=name, raw_data=json.dumps(data, ensure_ascii=False))


# --- documents ---------------------------------------------------------------------------------
@router.get(
    "/api/documents",
    response_model=list[DocumentInfo],
    tags=["documents"],
    summary="List the indexed documents",
)
def list_documents(service: ServiceDep) -> list[DocumentInfo]:
    return service.documents()


async def one_file(request: Request) -> None:
    """Refuse a form with more than one `file` field: FastAPI would keep one and drop the
    rest without a word. (The form is parsed once; this reads FastAPI's parsed copy.)"""
    files = (await request.form()).getlist("file")
    if len(files) > 1:
        raise InvalidRequestError(
            f"The upload has {len(files)} 'file' fields; send one file per request, or put "
            "many articles in one .jsonl feed."
        )


@router.post(
    UPLOAD_PATH,
    response_model=IngestReport,
    tags=["documents"],
    summary="Upload and ingest one file",
    responses={
        403: ADMIN_ONLY,
        415: {"model": ErrorBody, "description": "A file that cannot be ingested."},
    },
    dependencies=[Depends(require_admin), Depends(one_file)],
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


@router.delete(
    "/api/documents/{doc_id:path}",
    response_model=DocumentInfo,
    tags=["documents"],
    summary="Remove one document",
    responses={
        403: ADMIN_ONLY,
        404: {"model": ErrorBody, "description": "No document with this id."},
    },
    dependencies=[Depends(require_admin)],
)
def remove_document(doc_id: str, service: ServiceDep) -> DocumentInfo:
    return service.remove(doc_id)


# --- feedback ----------------------------------------------------------------------------------
@router.post("/api/feedback", tags=["feedback"], summary="Rate an answer")
def record_feedback(body: FeedbackRequest, service: ServiceDep) -> dict[str, Any]:
    """Appends the rating to the feedback log and returns the stored record."""
    return service.record_feedback(
        body.question,
        body.answer.model_dump(exclude_none=True),
        body.rating,
        _turns(body.history),
        body.comment,
    )


@router.get(
    "/api/feedback/cases",
    tags=["feedback"],
    summary="Feedback as evaluation cases",
    responses={200: {"content": {"application/x-ndjson": {}}}, 403: ADMIN_ONLY},
    dependencies=[Depends(require_admin)],
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


# --- health ------------------------------------------------------------------------------------
@public.get("/api/health", tags=["status"], summary="Index size and answering mode (no key)")
def health(service: ServiceDep) -> dict[str, Any]:
    return service.health()
