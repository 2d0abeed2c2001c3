"""What every HTTP route shares: the `Service`, the API-key and admin checks, and the start
of an answer stream.

The service and settings live on `app.state` (set when the server is assembled), so routes
reach them through dependencies and tests can build an app around a fake service. Starting a
stream runs the answer up to its first event before any response is sent: bad input, a full
queue or an empty index then become ordinary HTTP errors instead of an event in a 200 stream.
How the events are framed is each route's business (`bot.api`, `bot.openai_api`).
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException

from bot.chain import Delta
from bot.service import Service
from bot.types import Answer, Turn

_bearer = HTTPBearer(auto_error=False, description="The server's BOT_API_KEY, when one is set.")


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


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


def require_admin(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Admin routes (changing documents, reading feedback): the API key's holder. Without a
    key, only a server with no login configured at all is open; one with a web login keeps
    these routes shut, since anyone could call them around that login."""
    require_api_key(request, credentials)
    if request.app.state.settings.api_key or request.app.state.auth.accounts.open:
        return
    raise HTTPException(
        403,
        "Changing documents and reading feedback through the API needs BOT_API_KEY on the "
        "server; without it, sign in to the documents page at /admin/.",
    )


async def start_answer_stream(
    service: Service, question: str, history: list[Turn]
) -> AsyncGenerator[Delta | Answer, None]:
    """The answer's events, the first one already computed (its errors raise here); the rest
    are computed in worker threads as they are iterated, so the event loop keeps serving."""
    events = service.stream(question, history)
    first = await run_in_threadpool(next, events, None)

    async def rest() -> AsyncGenerator[Delta | Answer, None]:
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
