"""A monitor's HEAD gets what a GET would, without the body, instead of a 405."""

from __future__ import annotations

import asyncio

import httpx
from litestar import Litestar, get, post

from services.gateway.entrypoints.http.head_requests import AnswerHead


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@post("/api/v1/payments")
async def record() -> str:
    return "recorded"


def ask(method: str, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=AnswerHead(Litestar([health, record])))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            return await client.request(method, path)

    return asyncio.run(go())


def test_head_answers_as_get_without_the_body() -> None:
    got = ask("GET", "/health")
    head = ask("HEAD", "/health")

    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"] != "0"


def test_head_of_what_has_no_get_is_still_refused() -> None:
    assert ask("HEAD", "/api/v1/payments").status_code == 405
    assert ask("HEAD", "/nowhere").status_code == 404
