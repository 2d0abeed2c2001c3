"""The OpenAI-compatible endpoint: `/v1/chat/completions` and `/v1/models`.

This module owns the OpenAI wire format: the request and response shapes, turning a chat
`messages` list into a question and its history, and the streamed `chat.completion.chunk`
events (`data: {...}` blocks ending with `data: [DONE]`, as the official `openai` client
parses them). The answer's checked citations ride along as extra fields. Authentication,
errors and the answering itself are shared with the JSON API (`bot.api_deps`,
`bot.api_errors`, `bot.service`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from bot.api_deps import ServiceDep, require_api_key, start_answer_stream
from bot.api_errors import ERRORS, public_message
from bot.chain import Delta
from bot.errors import InvalidQuestionError
from bot.types import Answer, Citation, Turn

#: The one model `/v1/models` lists; requests may name any model and get this one.
MODEL_ID = "newsbot"

router = APIRouter(dependencies=[Depends(require_api_key)], responses=ERRORS, tags=["openai"])


# --- request and response shapes ---------------------------------------------------------------
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


# --- routes --------------------------------------------------------------------------------------
@router.post(
    "/v1/chat/completions",
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
    events = await start_answer_stream(service, question, history)
    # Returned, not yielded: one route answers JSON or a stream depending on the body, so
    # FastAPI's generator-based SSE routes do not fit; the framing is still FastAPI's.
    return EventSourceResponse(
        _chunks(events, completion_id, created),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _chunks(
    events: AsyncIterator[Delta | Answer], completion_id: str, created: int
) -> AsyncIterator[bytes]:
    """The stream: a role chunk, a content chunk per delta, a final chunk with the checked
    text and citations, then `[DONE]`; a failure after the start is OpenAI's in-band error."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return _data(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
        )

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
    except Exception as exc:  # the response has started: report in-band, and no [DONE]
        yield _data({"error": {"message": public_message(exc), "type": type(exc).__name__}})
        return
    yield format_sse_event(data_str="[DONE]")


def _data(payload: dict[str, Any]) -> bytes:
    return format_sse_event(data_str=json.dumps(payload, ensure_ascii=False))


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


@router.get("/v1/models", summary="The model this server answers with")
def list_models() -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "newsbot"}],
    }
