"""Two replicas of a service share its database and its notification log: only the one
holding the relay's lease publishes; when it stops, or dies and its lease runs out, the other
takes over."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from service_runtime.relay_lease import RelayLease


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def replicas(tmp_path: Path) -> tuple[RelayLease, RelayLease, Clock]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'events.sqlite'}")
    clock = Clock()
    return (
        RelayLease(engine, "negotiation", 10.0, clock),
        RelayLease(engine, "negotiation", 10.0, clock),
        clock,
    )


def test_one_replica_publishes_and_keeps_the_lease_while_it_lives(tmp_path: Path) -> None:
    first, second, clock = replicas(tmp_path)
    assert first.hold()
    assert not second.hold()
    for _ in range(10):  # renewed as it goes: never lost while alive
        clock.now += 4.0
        assert first.hold()
        assert not second.hold()


def test_a_dead_replicas_lease_is_taken_over_once_it_runs_out(tmp_path: Path) -> None:
    first, second, clock = replicas(tmp_path)
    assert first.hold()
    clock.now += 9.0  # first is SIGKILLed: it renews no more
    assert not second.hold()
    clock.now += 1.5
    assert second.hold()
    assert not first.hold()  # back from a long pause: it is not the holder any more


def test_a_replica_that_stops_hands_over_at_once(tmp_path: Path) -> None:
    first, second, _ = replicas(tmp_path)
    assert first.hold()
    first.release()
    assert second.hold()


def test_leases_of_different_relays_do_not_meet(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'events.sqlite'}")
    assert RelayLease(engine, "portfolio").hold()
    assert RelayLease(engine, "portfolio.agreements").hold()
