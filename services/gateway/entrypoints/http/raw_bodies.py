"""Request bodies that are files, not JSON (a carteira CSV, a bank's return file): handlers
read them with `request.body()`, so Litestar sees no `data` to describe. These operations put
the body in the OpenAPI document, so the API docs can send a file."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)


def raw_body_operation(*media_types: str, description: str) -> type[Operation]:
    """An operation class (a route handler's `operation_class`) whose request body is a file
    of any of `media_types`."""

    @dataclass
    class RawBodyOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={
                    media_type: OpenAPIMediaType(
                        schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
                    )
                    for media_type in media_types
                },
                description=description,
                required=True,
            )

    return RawBodyOperation
