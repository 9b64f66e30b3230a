"""Request bodies capped before anything reads them: before authentication, before JSON or form parsing.

A declared ``Content-Length`` over the cap is refused at once (413); a body sent without one (chunked) is
counted as it arrives and refused the moment it passes the cap. Uploads (multipart forms) get the larger
cap; every other body is JSON or a small form and gets 1 MiB, far above any real one. Sign-in and password
forms, the routes anybody may call without credentials, get 64 KiB: a name and two passwords of the longest
kind (1,000 characters, however encoded) fit, and a megabyte-long name is refused before any parser spends
the event loop's time on it (``benchmarks/api_load.py --run hostile``: 1 MB sign-in names, parsed, delayed
``/health`` past 100 ms).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OTHER_BODY_BYTES = 1024 * 1024
CREDENTIAL_BODY_BYTES = 64 * 1024
CREDENTIAL_PATHS = frozenset({"/v1/auth/login", "/v1/auth/password", "/console/login", "/console/password"})


class BodyLimit:
    """ASGI middleware: ``multipart_bytes`` for uploads, ``other_bytes`` for every other body."""

    def __init__(self, app: ASGIApp, *, multipart_bytes: int, other_bytes: int = OTHER_BODY_BYTES) -> None:
        self.app, self.multipart_bytes, self.other_bytes = app, multipart_bytes, other_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        limit = self.multipart_bytes if multipart else self.other_bytes
        if scope.get("path") in CREDENTIAL_PATHS:
            limit = min(limit, CREDENTIAL_BODY_BYTES)
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, 400, "Content-Length is not a number")
                return
            if int(declared) > limit:
                await _refuse(send, 413, f"request body of {int(declared):,} bytes; at most {limit:,} here")
                return
        received, over, refused, passing = 0, False, False, False

        async def counted() -> Message:
            # Past the cap the app is told the body has ended (a framework may turn a raised error into its
            # own 400), and whatever it answers is replaced by the 413 below.
            nonlocal received, over
            if over:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def answered(message: Message) -> None:
            nonlocal refused, passing
            if passing or not over:  # an answer begun before the cap was passed is let through whole
                passing = True
                await send(message)
            elif not refused:
                refused = True
                await _refuse(send, 413, f"request body over {limit:,} bytes")

        await self.app(scope, counted, answered)


async def _refuse(send: Send, status: int, reason: str) -> None:
    body = json.dumps({"error": reason, "kind": "bad_input"}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
