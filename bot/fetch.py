"""Fetching a web page under fixed network rules; the one way the package reads the web.

- Only http(s). A host that resolves to a private, loopback, link-local or otherwise
  non-public address is refused unless `allow_private` is set (`BOT_ALLOW_PRIVATE_URLS`).
- Redirects are followed by hand, at most `MAX_REDIRECTS`, each hop checked like the first.
- Timeouts: `TIMEOUT_S` to connect and between reads, `DEADLINE_S` for the whole body.
- The body is streamed and refused past `MAX_BYTES` (counted after decompression, so a
  gzip bomb stops at the limit too); it is refused, never truncated.

Every problem is a `WebError` naming the URL and what to do. What a page holds (article or
feed) is `bot.web`'s business. The address check resolves the host before connecting; it does
not pin the connection to the checked address (DNS rebinding between the check and the
connection is not defended against).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from bot.errors import WebError

#: Redirects followed before a fetch is refused.
MAX_REDIRECTS = 5
#: Largest body read, in bytes; a bigger page is refused, not truncated.
MAX_BYTES = 5_000_000
#: Seconds to connect, and between two reads of the body.
TIMEOUT_S = 15.0
#: Seconds a whole fetch may take, so that a server dripping bytes cannot hold it forever.
DEADLINE_S = 60.0
USER_AGENT = "newsbot/0.1 (article ingest)"


@dataclass(frozen=True)
class Fetched:
    """A page as fetched: the final URL after redirects, the body and its content type."""

    url: str
    body: bytes
    content_type: str


def is_url(text: str) -> bool:
    """Whether a command-line argument names a web address rather than a file."""
    return bool(re.match(r"^https?://", text, re.IGNORECASE))


def check_address(url: str, allow_private: bool) -> None:
    """Refuse a URL that is not http(s), or whose host resolves to a non-public address."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise WebError(f"{url}: only http:// and https:// addresses can be fetched.")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebError(
            f"{url}: cannot resolve {parts.hostname} ({exc}). Check the address."
        ) from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not _is_public(address):
            raise WebError(
                f"{url}: {parts.hostname} resolves to {address}, a private, loopback or "
                "link-local address, so it was not fetched. Set BOT_ALLOW_PRIVATE_URLS=true "
                "to allow addresses on your own network."
            )


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is on the public internet (not private, loopback, link-local,
    reserved or multicast)."""
    return address.is_global and not address.is_multicast


def fetch(url: str, allow_private: bool = False) -> Fetched:
    """The page at `url`, under this module's network rules (see its docstring)."""
    import httpx

    headers = {"User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    timeout = httpx.Timeout(TIMEOUT_S)
    with httpx.Client(follow_redirects=False, timeout=timeout, headers=headers) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_address(url, allow_private)
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        url = urljoin(url, location)
                        continue
                    if response.status_code >= 400:
                        raise WebError(
                            f"{url}: the server answered {response.status_code} "
                            f"{response.reason_phrase}. Check the address."
                        )
                    body = _read_limited(response, url)
                    return Fetched(url, body, response.headers.get("content-type", ""))
            except httpx.TimeoutException:
                raise WebError(
                    f"{url}: the site did not answer within {TIMEOUT_S:.0f} s. Check that it "
                    "opens in a browser, then try again later."
                ) from None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise WebError(
                    f"{url}: cannot fetch it ({type(exc).__name__}: {exc}). Check the address "
                    "and that the site is up."
                ) from None
    raise WebError(f"{url}: more than {MAX_REDIRECTS} redirects (a loop?); not fetched.")


def _read_limited(response: Any, url: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise WebError(f"{url}: the page is {int(declared):,} bytes; the limit is {MAX_BYTES:,}.")
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + DEADLINE_S
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise WebError(f"{url}: the page took over {DEADLINE_S:.0f} s to arrive; not read.")
        size += len(chunk)
        if size > MAX_BYTES:  # stop reading: a lying or missing Content-Length
            raise WebError(f"{url}: the page is over the limit of {MAX_BYTES:,} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)
