"""Schemathesis against the running gateway's OpenAPI schema: whatever it generates (valid and
invalid bodies, parameters, headers) for every operation, the gateway never answers a 5xx,
and every refusal is in the one error shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.support.platform import RunningPlatform, running_platform

pytestmark = pytest.mark.e2e

TENANT = "acme"
# Enough to reach the odd corners of each operation, few enough for the suite's budget.
EXAMPLES_PER_OPERATION = 3


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("api-fuzz"), "tansu") as running:
        yield running


@pytest.fixture(scope="module")
def admin_headers(platform: RunningPlatform) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.token(TENANT, 'admin')}"}


def error_shape(response: Any) -> str | None:
    """A refusal (4xx) in JSON is the API's one error shape: error.code and error.message."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith("application/json"):
        return None
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not error.get("code") or not error.get("message"):
        return f"not the error shape: {body!r}"[:300]
    return None


def test_no_input_makes_the_gateway_fail(
    platform: RunningPlatform, admin_headers: dict[str, str]
) -> None:
    # schemathesis's pytest plugin does not run on this pytest; its Python API does.
    schema = schemathesis.openapi.from_url(f"{platform.base_url}/schema/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case: Any) -> None:
            response = case.call(headers={**(case.headers or {}), **admin_headers})
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:200]}"
                )
            problem = error_shape(response)
            if problem:
                failures.append(f"{case.method} {case.formatted_path}: {problem}")

        exercise()
    assert operations > 30, "the schema lists the gateway's operations"
    assert not failures, "\n".join(sorted(set(failures))[:40])
