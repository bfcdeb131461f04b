"""Where a Docker engine runs, the end-to-end import also runs against an Apache Kafka
container (testcontainers). Machines without an engine (CI here) skip it, saying why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.platform import RunningPlatform, wait_for

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def docker_unavailable_reason() -> str | None:
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as exc:
        return f"no Docker engine reachable for testcontainers: {type(exc).__name__}: {exc}"
    return None


class ContainerBroker:
    """The container, seen through the few members the platform fixture uses."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def stop(self) -> None:
        pass


@pytest.fixture(scope="module")
def container_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer("confluentinc/cp-kafka:7.6.1") as kafka:
        running = RunningPlatform(
            root=tmp_path_factory.mktemp("container"),
            broker=ContainerBroker(kafka.get_bootstrap_server()),  # type: ignore[arg-type]
        )
        running.start()
        try:
            yield running
        finally:
            running.stop()


def test_a_carteira_imports_through_a_kafka_container(container_platform: RunningPlatform) -> None:
    client = container_platform.client("container", "operator")
    upload = client.upload_carteira((EXAMPLES / "carteira-exemplo.csv").read_bytes())
    status = client.wait_for_import(upload["import_id"], timeout=120)
    assert (status["created"], status["rejected"]) == (10, 2)
    anonymous = container_platform.anonymous()
    wait_for(lambda: len(anonymous.lookup("container", "12299899430")["debts"]) == 2, timeout=60)
