"""HEAD answered as GET without the body (RFC 9110, 9.3.2): Litestar routes only the methods a
handler declares, so every HEAD was a 405, and uptime monitors and link checkers probe with
HEAD. Wraps the whole app, outside Litestar's router."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AnswerHead:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # a streamed body: nothing of it goes out
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        # The GET's status and headers (its Content-Length too), and no body.
        await self.app({**scope, "method": "GET"}, receive, headers_only)
