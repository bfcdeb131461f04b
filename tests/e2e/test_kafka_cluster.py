"""A real cluster on one machine: three Apache Kafka brokers (KRaft, three JVMs), the event
topics with three copies and min.insync.replicas=2, the services producing with acks=all. One
broker is SIGKILLed in the middle of an import (the leader of the partition the carteira's
rows are on); the import completes, and the read models end equal to the event stores: nothing
lost, nothing doubled. Then another in the middle of a simulation (`cobranca simulate`'s world
on this platform): it goes on, and the streams hold exactly what its people did. Prints the
figures: rows per second before and after the loss, how long the import stood still, the
seconds each simulated day took."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.partitioner import murmur2

from cobranca.brokers import kafka_unavailable_reason
from cobranca.brokers.kafka_cluster import ApacheKafkaCluster
from cobranca.demo_data import generate_carteira
from cobranca.simulation.driver import Tally
from cobranca.simulation.model import BehaviourModel
from cobranca.simulation.session import run_simulation
from cobranca.simulation.world import build_world
from contracts.carteiras import INBOUND_TOPIC
from contracts.clock import CLOCK_TOPIC
from tests.support.consistency import differences
from tests.support.platform import RunningPlatform, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

ROWS = 3_000
SIMULATED_DAYS = 4


async def leader_of(bootstrap: str, topic: str, key: str) -> int:
    """The node leading the partition a key goes to (the producers' default partitioner)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        partitions = sorted(described["partitions"], key=lambda p: p["partition"])
        index = (murmur2(key.encode()) & 0x7FFFFFFF) % len(partitions)
        return int(partitions[index]["leader"])
    finally:
        await admin.close()


async def replication_of(bootstrap: str, topic: str) -> tuple[int, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        copies = min(len(p["replicas"]) for p in described["partitions"])
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = {entry[0]: entry[1] for entry in configs[0].resources[0][4]}
        return copies, str(entries.get("min.insync.replicas"))
    finally:
        await admin.close()


def _simulation_losing_a_broker(running: RunningPlatform, cluster: ApacheKafkaCluster) -> str:
    """`cobranca simulate`'s world on this platform; a broker SIGKILLed after its second day
    (the one leading the clock's topic: every service's day starts there). The simulation
    goes on with two brokers, the topics tell what the simulated people did, nothing more or
    less, and the read models equal the stores."""
    model = BehaviourModel()
    world = build_world(15, SIMULATED_DAYS, 3, running.business_date(), model)
    ticks: list[float] = [time.monotonic()]
    victim: list[int] = []

    def on_day(day: int, today: dt.date, tally: Tally) -> None:
        ticks.append(time.monotonic())
        if day == 1:
            victim.append(asyncio.run(leader_of(cluster.bootstrap, CLOCK_TOPIC, "clock")))
            cluster.nodes[victim[0] - 1].kill()

    summary = run_simulation(
        running.settings, world, SIMULATED_DAYS, 3, "sim", model, workers=4, on_day=on_day
    )
    activity = summary["activity"]
    agreed = sum(n for what, n in activity.items() if what.startswith("agreements ("))
    assert agreed > 0 and activity["payments"] > 0
    assert summary["streams"]["agreements"] == agreed
    assert summary["streams"]["installments_paid"] == activity["payments"]
    try:
        wait_for(
            lambda: not differences(running.settings),
            timeout=180,
            interval=1.0,
            what="the read models to equal the event stores after the simulation",
        )
    except AssertionError:
        raise AssertionError(f"{differences(running.settings)}\n{running.logs()}") from None
    cluster.nodes[victim[0] - 1].start(timeout=180)
    days = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    return (
        f"  simulation ({len(world.debtors)} debtors, {SIMULATED_DAYS} days, {agreed} agreements, "
        f"{activity['payments']} payments): broker {victim[0]} (leader of the clock's topic) "
        f"SIGKILLed after day 2; seconds per simulated day: "
        + ", ".join(f"{d:.1f}" for d in days)
        + " (the day after the loss waits for the cluster to settle)"
    )


@pytest.mark.timeout(900)  # three JVMs, an import and a simulation, each losing a broker
def test_losing_one_of_three_brokers_mid_import_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    reason = kafka_unavailable_reason()
    if reason:
        pytest.skip(reason)
    cluster = ApacheKafkaCluster(tmp_path / "cluster", nodes=3)
    cluster.start(timeout=180)
    running = RunningPlatform(root=tmp_path, broker=cluster)  # type: ignore[arg-type]
    running.platform.env.update(
        {"COBRANCA_TOPIC_REPLICATION": "3", "COBRANCA_TOPIC_MIN_INSYNC_REPLICAS": "2"}
    )
    try:
        running.start()
        copies, min_isr = asyncio.run(replication_of(cluster.bootstrap, INBOUND_TOPIC))
        assert (copies, min_isr) == (3, "2")

        client = running.client("cluster", "operator")
        csv_text = generate_carteira(ROWS, seed=7, today=dt.date(2026, 11, 25))
        started = time.monotonic()
        import_id = client.upload_carteira(csv_text.encode())["import_id"]
        wait_for(
            lambda: (client.import_status(import_id)["rows_read"] or 0) >= 600,
            timeout=180,
            interval=0.05,
            what="the import to be under way",
        )
        read_before = client.import_status(import_id)["rows_read"]
        killed_at = time.monotonic()
        rate_before = read_before / (killed_at - started)
        victim = asyncio.run(leader_of(cluster.bootstrap, INBOUND_TOPIC, import_id))
        cluster.nodes[victim - 1].kill()  # SIGKILL the leader of the import's partition

        resumed = wait_for(
            lambda: (
                (client.import_status(import_id)["rows_read"] or 0) > read_before
                and time.monotonic()
            ),
            timeout=180,
            interval=0.1,
            what="the import to move again after the broker's loss",
        )
        try:
            status = wait_for(
                lambda: (s := client.import_status(import_id))["status"] == "completed" and s,
                timeout=300,
                interval=0.5,
                what="the import to complete with a broker down",
            )
        except AssertionError:
            raise AssertionError(running.logs()) from None
        finished = time.monotonic()
        assert read_before < ROWS, "the broker was killed after the import finished"
        assert status["rows_read"] == ROWS
        assert status["created"] + status["rejected"] == ROWS
        assert status["updated"] == 0 and status["unchanged"] == 0
        try:
            wait_for(
                lambda: not differences(running.settings),
                timeout=180,
                interval=1.0,
                what="the read models to equal the event stores",
            )
        except AssertionError:
            raise AssertionError(f"{differences(running.settings)}\n{running.logs()}") from None

        # The broker comes back and catches up; nothing changes.
        back_started = time.monotonic()
        cluster.nodes[victim - 1].start(timeout=180)
        back_in = time.monotonic() - back_started
        assert not differences(running.settings)

        # Then a simulated world on the same cluster loses the leader of the clock's topic.
        # (It was opt-in while its clock request went unanswered: the clock's own request and
        # reply topics were made with one copy, so the replies had nowhere to go.)
        simulated = _simulation_losing_a_broker(running, cluster)

        print(
            f"\nthree-broker cluster, broker {victim} (leader of the import's partition) "
            f"SIGKILLed at row {read_before:,} of {ROWS:,}:\n"
            f"  rows read per second before the loss: {rate_before:,.0f}\n"
            f"  import stood still for: {resumed - killed_at:.1f} s\n"
            f"  the {ROWS - read_before:,} rows left were read within {finished - resumed:.1f} s "
            f"of resuming, with two brokers\n"
            f"  whole import: {finished - started:.1f} s\n"
            f"  killed broker back and serving in: {back_in:.1f} s\n"
            f"{simulated}"
        )
    finally:
        running.stop()
        cluster.kill()  # its data is thrown away: no need for three controlled shutdowns
