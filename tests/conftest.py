from __future__ import annotations

import pytest

from tests.fixtures.brokers import *  # noqa: F403


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With pytest-xdist (`make test` runs two workers, `--dist loadgroup`): the tests that
    start brokers and services run in one worker, one after another as they would alone; the
    unit tests run beside them in the other worker."""
    for item in items:
        if item.path.parent.name != "unit":
            item.add_marker(pytest.mark.xdist_group("platforms"))
