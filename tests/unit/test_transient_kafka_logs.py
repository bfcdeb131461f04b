"""The first `cobranca up --broker kafka` logged some 25 ERROR lines from aiokafka ("Group
Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError", from every
service's consumers) while the new Kafka elected its group coordinator and created
`__consumer_offsets`: the operator read ERROR at start and thought something was broken.
During the process's first minute those known-transient errors are logged at INFO, saying why;
after it, or any other aiokafka error, stays ERROR. Records in, levels out."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import errors as kafka_errors

from service_runtime.logs import (
    STARTUP_GRACE_SECONDS,
    TransientKafkaErrors,
    configure_logging,
)

COORDINATOR = "aiokafka.consumer.group_coordinator"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(name: str, msg: str, *args: Any, level: int = logging.ERROR) -> logging.LogRecord:
    """A record as aiokafka's `log.error(msg, *args)` makes it."""
    return logging.getLogger(name).makeRecord(name, level, __file__, 1, msg, args, None)


def coordinator_failed(error: Exception) -> logging.LogRecord:
    return record(COORDINATOR, "Group Coordinator Request failed: %s", error)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def transient(clock: FakeClock) -> TransientKafkaErrors:
    return TransientKafkaErrors(grace_seconds=60, clock=clock)


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.GroupCoordinatorNotAvailableError(),
        kafka_errors.NotCoordinatorForGroupError(),
        kafka_errors.GroupLoadInProgressError(),
    ],
)
def test_a_coordinator_being_elected_at_start_is_info_saying_why(
    transient: TransientKafkaErrors, clock: FakeClock, error: Exception
) -> None:
    clock.now += 5
    found = coordinator_failed(error)

    assert transient.filter(found) is True
    assert (found.levelno, found.levelname) == (logging.INFO, "INFO")
    message = found.getMessage()
    assert message.startswith(f"Group Coordinator Request failed: {error}")
    assert "usual while Kafka starts" in message
    assert "an error after the first 60 s" in message
    assert "ERROR" not in message  # grep ERROR finds only errors


def test_a_heartbeat_without_a_coordinator_yet_and_a_topic_just_created_are_info(
    transient: TransientKafkaErrors,
) -> None:
    heartbeat = record(
        COORDINATOR,
        "Heartbeat send request failed: %s. Will retry.",
        kafka_errors.GroupCoordinatorNotAvailableError(),
    )
    new_topic = record("aiokafka.cluster", "Topic %s not found in cluster metadata", "clock.days")

    assert transient.filter(heartbeat) and transient.filter(new_topic)
    assert heartbeat.levelno == new_topic.levelno == logging.INFO
    assert new_topic.getMessage().startswith("Topic clock.days not found in cluster metadata (")


def test_the_same_error_after_the_grace_period_stays_error(
    transient: TransientKafkaErrors, clock: FakeClock
) -> None:
    clock.now += 59
    early = coordinator_failed(kafka_errors.GroupCoordinatorNotAvailableError())
    assert transient.filter(early) and early.levelno == logging.INFO

    clock.now += 2
    late = coordinator_failed(kafka_errors.GroupCoordinatorNotAvailableError())
    assert transient.filter(late) is True
    assert (late.levelno, late.levelname) == (logging.ERROR, "ERROR")
    assert late.getMessage() == (
        "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"
    )


@pytest.mark.parametrize(
    "found",
    [
        # A real fault of the same request: not the coordinator's election.
        coordinator_failed(kafka_errors.KafkaConnectionError("Connection refused")),
        coordinator_failed(kafka_errors.GroupAuthorizationFailedError("portfolio.inbound")),
        # Other errors of the same loggers.
        record(COORDINATOR, "Heartbeat session expired - marking coordinator dead"),
        record(COORDINATOR, "Unexpected error from SyncGroup: %s", Exception("boom")),
        record("aiokafka.cluster", "Topic %s is not authorized for this client", "x"),
        # The same text from another logger.
        record(
            "cobranca.portfolio",
            "Group Coordinator Request failed: %s",
            kafka_errors.GroupCoordinatorNotAvailableError(),
        ),
    ],
    ids=["connection", "authorization", "session", "sync_group", "topic_auth", "other_logger"],
)
def test_any_other_error_stays_error_from_the_start(
    transient: TransientKafkaErrors, found: logging.LogRecord
) -> None:
    text = found.getMessage()

    assert transient.filter(found) is True
    assert found.levelno == logging.ERROR
    assert found.getMessage() == text


def test_a_warning_is_left_as_it_is(transient: TransientKafkaErrors) -> None:
    warning = record(
        COORDINATOR,
        "Group Coordinator Request failed: %s",
        kafka_errors.GroupCoordinatorNotAvailableError(),
        level=logging.WARNING,
    )
    assert transient.filter(warning) and warning.levelno == logging.WARNING


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = {
        name: (logging.getLogger(name).level, logging.getLogger(name).filters[:])
        for name in ("aiokafka", "aiokafka.consumer.group_coordinator", "aiokafka.cluster", "kafka")
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (old_level, filters) in loggers.items():
        logging.getLogger(name).setLevel(old_level)
        logging.getLogger(name).filters[:] = filters


def service_lines(level: str = "INFO") -> io.StringIO:
    """A service's logging as `cobranca serve` configures it, into a buffer."""
    configure_logging("portfolio", level, json_lines=False)
    out = io.StringIO()
    logging.getLogger().handlers[0].setStream(out)  # type: ignore[attr-defined]
    return out


def test_a_service_logs_the_coordinators_election_at_info_and_other_errors_at_error(
    restore_logging: None,
) -> None:
    out = service_lines()
    log = logging.getLogger(COORDINATOR)

    log.error("Group Coordinator Request failed: %s", kafka_errors.NotCoordinatorForGroupError())
    log.error("Heartbeat session expired - marking coordinator dead")

    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert (
        " INFO    aiokafka.consumer.group_coordinator: Group Coordinator Request failed: "
        "[Error 16] NotCoordinatorForGroupError (usual while Kafka starts" in lines[0]
    )
    assert lines[1].endswith(
        " ERROR   aiokafka.consumer.group_coordinator: "
        "Heartbeat session expired - marking coordinator dead"
    )


def test_configured_twice_one_filter_and_a_level_above_info_leaves_them_out(
    restore_logging: None,
) -> None:
    service_lines()
    out = service_lines("WARNING")
    log = logging.getLogger(COORDINATOR)
    assert sum(isinstance(f, TransientKafkaErrors) for f in log.filters) == 1
    assert STARTUP_GRACE_SECONDS == 60

    log.error("Group Coordinator Request failed: %s", kafka_errors.NotCoordinatorForGroupError())

    assert out.getvalue() == ""
