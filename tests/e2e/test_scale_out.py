"""Scale-out on one machine: two instances of the negotiation service in one consumer group and
two gateways (their projections are the projectors) in theirs, on topics of four partitions.
While a 3,000-row carteira goes through the gateway and agreements are closed through the
portal API (each close a negotiation request, answered by the instance holding its
partition), one negotiation instance and one gateway are SIGKILLed. The survivors take over
their partitions; nothing is lost and nothing applied twice.

The stores are the SQLite files `cobranca up` uses, shared by the instances of a service as
replicas on one machine share them. SQLite serializes writers across processes (WAL, a
30-second busy timeout), so two projectors writing one read database apply their batches one
transaction at a time, and a batch that still fails is read again (`PositionedConsumer`): the
test counts those in the logs. Replicas on several machines need PostgreSQL instead
(docs/operations.md).

Both instances of a service run its outbox relay over the shared event store, and the one
holding the relay's lease publishes (docs/operations.md, "Scaling"); when the killed instance
held it, the survivor takes over and may publish the batch in flight again, with the same event
ids. Events are therefore counted by event id; the raw record counts are printed.

Figures are printed, never asserted: how long the survivors took to be given the partitions
(the group coordinator's log lines, see tests/support/scale_out.py) and to apply their first
batch / answer their first request there."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import httpx
import pytest
from aiokafka.partitioner import murmur2

from cobranca.brokers import EmbeddedBroker, free_port
from cobranca.client import GatewayClient, GatewayError
from cobranca.demo_data import generate_carteira
from cobranca.demo_negotiation import DEMO_SETTINGS
from cobranca.platform import ServiceProcess
from contracts.negotiation import AGREEMENTS_TOPIC
from contracts.negotiation_requests import REQUESTS_TOPIC
from contracts.portfolio import DEBTS_TOPIC
from service_runtime.settings import Settings
from services.gateway.adapters.tokens import issue_token
from services.gateway.entrypoints.main import PROJECTION_TOPICS
from services.negotiation.domain.agreement import agreement_id_for
from tests.support.platform import TEST_TODAY, start_broker, wait_for
from tests.support.scale_out import assignments, held, read_topic

pytestmark = [
    pytest.mark.e2e,
    # Evidence, not a check each change needs: about 1.5 to 2.5 minutes of two cores, more
    # than the suite's budget allows. `make bench-scale-out` runs it (CI can set the variable).
    pytest.mark.skipif(
        not os.environ.get("COBRANCA_SCALE_OUT"),
        reason="the scale-out evidence runs with `make bench-scale-out` (COBRANCA_SCALE_OUT=1)",
    ),
]

REPO = Path(__file__).resolve().parents[2]
TENANT = "escala"
PARTITIONS = 4
FIRST_ROWS = 1_000  # imported first: the debts the agreements are closed over (400 debtors)
SECOND_ROWS = 3_000  # imported while the instances die
WORKERS = 4  # clients closing agreements, one debtor (one debt) each
KILL_AFTER_CLOSES = 40  # closed before the second carteira is uploaded
CLOSES_AFTER_KILL = 40  # sent after the kill: the stream goes on through the takeover
PORTAL_GROUP = "gateway.portal_view"
REQUESTS_GROUP = "negotiation.requests"
# The portal view's partitions: every topic it reads (debts, agreements, invoices, erasures).
PORTAL_TOPICS = len(PROJECTION_TOPICS["portal_view"]) * PARTITIONS


def partition_of(key: str) -> int:
    """The partition of `negotiation.requests` a request with this key goes to (the
    producer's default partitioner: murmur2 of the key)."""
    return (int(murmur2(key.encode())) & 0x7FFFFFFF) % PARTITIONS


@dataclass
class Close:
    key: str
    debt_id: str
    index: int
    via: str = ""
    sent_at: float = 0.0
    done_at: float = 0.0
    status: int | None = None
    agreement_id: str | None = None
    error: str = ""

    @property
    def partition(self) -> int:
        # The gateway keys an operator's close by tenant and first debt.
        return partition_of(f"{TENANT}|{self.debt_id}")

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Cluster:
    """The broker, the clock, the portfolio, and the instances of negotiation and gateway."""

    def __init__(self, root: Path, broker: EmbeddedBroker) -> None:
        self.root = root
        self.broker = broker
        self.data_dir = root / "var"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ports = {"gateway-1": free_port(), "gateway-2": free_port()}
        self.processes: dict[str, ServiceProcess] = {}
        self.settings = Settings(
            data_dir=self.data_dir,
            kafka_bootstrap=broker.bootstrap,
            today=TEST_TODAY,
            clock_mode="manual",
            clock_start=TEST_TODAY,
        )
        self.settings.signing_key()  # created once, before the processes read it

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COBRANCA_")}
        env.update(
            {
                "COBRANCA_DATA_DIR": str(self.data_dir),
                "COBRANCA_KAFKA_BOOTSTRAP": self.broker.bootstrap,
                "COBRANCA_CLOCK_MODE": "manual",
                "COBRANCA_CLOCK_START": TEST_TODAY,
                "COBRANCA_TODAY": TEST_TODAY,
                "COBRANCA_TOPIC_PARTITIONS": str(PARTITIONS),
                "COBRANCA_KAFKA_SESSION_TIMEOUT_MS": "6000",
                "COBRANCA_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
                "COBRANCA_RELAY_CHECK_INTERVAL": "2",
                "COBRANCA_LOG_LEVEL": "INFO",
                "COBRANCA_LOG_FORMAT": "json",
                "COBRANCA_CLOSE_LIMIT_PER_ADDRESS": "0",
                "COBRANCA_CLOSE_LIMIT_PER_DOCUMENT": "0",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
                ),
            }
        )
        if name in self.ports:
            env["COBRANCA_HTTP_PORT"] = str(self.ports[name])
        return env

    def start(self, name: str) -> None:
        service = name.split("-")[0]
        if service in ("negotiation", "gateway"):
            # `cobranca serve`, with the group coordinator's assignments in the log.
            command = [sys.executable, "-m", "tests.support.scale_out", service]
        else:
            command = [sys.executable, "-m", "cobranca", "serve", service]
        proc = ServiceProcess(name, command, self.env(name), self.log(name))
        proc.start()
        self.processes[name] = proc

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def token(self, role: str) -> str:
        return issue_token(
            self.settings.signing_key(),
            tenant=TENANT,
            role=role,  # type: ignore[arg-type]
            subject=f"{role}@{TENANT}",
            ttl=dt.timedelta(hours=1),
        )

    def client(self, name: str, role: str = "admin") -> GatewayClient:
        return GatewayClient(self.url(name), self.token(role), timeout=60)

    def kill(self, name: str) -> None:
        proc = self.processes[name]
        assert proc.process is not None and proc.running, f"{name} is not running"
        os.kill(proc.process.pid, signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.signal(signal.SIGTERM)
        for proc in self.processes.values():
            proc.wait(20)

    def logs(self, tail: int = 40) -> str:
        out = []
        for path in sorted((self.root / "logs").glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            out.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(out)

    def count_in_logs(self, text: str) -> Counter[str]:
        found: Counter[str] = Counter()
        for path in sorted((self.root / "logs").glob("*.log")):
            found[path.stem] = path.read_text(errors="replace").count(text)
        return found

    # -- the stores, read directly -------------------------------------------------------
    def query(self, db: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.data_dir / db, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def portal_debts(self) -> list[tuple[Any, ...]]:
        return self.query(
            "gateway/read.sqlite",
            "SELECT debt_id, document, status, agreement_id FROM portal_debts WHERE tenant = ?",
            TENANT,
        )

    def portal_debt_count(self) -> int:
        rows = self.query(
            "gateway/read.sqlite", "SELECT COUNT(*) FROM portal_debts WHERE tenant = ?", TENANT
        )
        return int(rows[0][0])

    def portal_agreements(self) -> list[str]:
        rows = self.query(
            "gateway/read.sqlite",
            "SELECT agreement_id FROM portal_agreements WHERE tenant = ?",
            TENANT,
        )
        return [r[0] for r in rows]

    def negotiable_debts(self) -> int:
        rows = self.query(
            "negotiation/state.sqlite",
            "SELECT COUNT(*) FROM negotiable_debts WHERE tenant = ?",
            TENANT,
        )
        return int(rows[0][0])

    def stored_agreements(self) -> list[str]:
        """The agreements in the negotiation service's event store (one `Closed` event each,
        version 1 of the aggregate)."""
        rows = self.query(
            "negotiation/events.sqlite",
            "SELECT originator_id FROM stored_events WHERE topic LIKE ?",
            "%:Agreement.Closed",
        )
        return [str(uuid.UUID(r[0])) for r in rows]

    def stored_debts(self) -> list[str]:
        """The debts in the portfolio service's event store (one `Imported` event each)."""
        rows = self.query(
            "portfolio/events.sqlite",
            "SELECT originator_id FROM stored_events WHERE topic LIKE ?",
            "%:Debt.Imported",
        )
        return [str(uuid.UUID(r[0])) for r in rows]

    def projection_offsets(self, projection: str) -> dict[tuple[str, int], int]:
        rows = self.query(
            "gateway/read.sqlite",
            "SELECT topic, partition, next_offset FROM projection_offsets WHERE projection = ?",
            projection,
        )
        return {(t, p): o for t, p, o in rows}


def balanced(cluster: Cluster, names: list[str], group: str, total: int) -> bool:
    """Each instance holds some partitions of the group, none twice, all of them held."""
    sets = [held(cluster.log(name), group) for name in names]
    union = frozenset().union(*sets)
    return all(sets) and sum(len(s) for s in sets) == len(union) == total


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    broker = start_broker("tansu", tmp_path)
    running = Cluster(tmp_path, broker)
    try:
        yield running
    finally:
        running.stop()
        broker.stop()


def test_survivors_take_over_the_partitions_of_killed_instances(cluster: Cluster) -> None:
    started = time.monotonic()
    # One instance of each first; the second ones start once the first ones have created
    # their tables (before their broker connects: its first log line), and join the groups.
    for name in ("clock", "portfolio", "negotiation-1", "gateway-1"):
        cluster.start(name)
    try:
        for name in ("negotiation-1", "gateway-1"):
            wait_for(
                lambda name=name: (
                    cluster.log(name).exists() and "coordinator" in cluster.log(name).read_text()
                ),
                timeout=120,
                what=f"{name} to connect",
            )
        for name in ("negotiation-2", "gateway-2"):
            cluster.start(name)
        for name in ("gateway-1", "gateway-2"):
            GatewayClient(cluster.url(name)).wait_ready(timeout=120)
        # À vista with the charges waived.
        cluster.client("gateway-1").save_negotiation_settings(DEMO_SETTINGS)
        cluster.client("gateway-1").create_condition(
            {"installments": 1, "charges_discount_pct": 100}
        )
    except (AssertionError, TimeoutError, GatewayError):
        raise AssertionError("the instances did not start:\n" + cluster.logs()) from None
    ready_at = time.monotonic()

    # The first carteira, whose debts the agreements are closed over.
    today = dt.date.fromisoformat(TEST_TODAY)
    operator = cluster.client("gateway-2", "operator")
    first = generate_carteira(FIRST_ROWS, seed=11, today=today)
    first_id = operator.upload_carteira(first.encode(), "primeira.csv")["import_id"]
    first_status = operator.wait_for_import(first_id, timeout=120)
    accepted_first = first_status["created"]
    wait_for(
        lambda: (
            len(cluster.portal_debts()) == accepted_first
            and cluster.negotiable_debts() == accepted_first
        ),
        timeout=90,
        what="the first carteira in the portal view and in negotiation's debts",
    )
    first_imported_at = time.monotonic()
    by_document: dict[str, str] = {}
    for debt_id, document, _status, _agreement in sorted(cluster.portal_debts()):
        by_document.setdefault(document, debt_id)
    debts = sorted(by_document.values())
    candidates = [Close(key=str(uuid.uuid4()), debt_id=d, index=i) for i, d in enumerate(debts)]

    # The stream: agreements closed by WORKERS clients over both gateways (one negotiation
    # request each, answered by the instance holding its partition).
    victim_dead = threading.Event()
    stop = threading.Event()  # the test failed: no more closes
    pending: Queue[Close] = Queue()
    for close in candidates:
        pending.put(close)
    sent_after_kill = Counter[str]()
    done = Counter[str]()
    done_lock = threading.Lock()

    def work() -> None:
        clients = {
            name: GatewayClient(cluster.url(name), cluster.token("operator"), timeout=60)
            for name in cluster.ports
        }
        while not stop.is_set():
            with done_lock:
                if victim_dead.is_set():
                    if sent_after_kill["all"] >= CLOSES_AFTER_KILL:
                        return
                    sent_after_kill["all"] += 1
            try:
                close = pending.get_nowait()
            except Empty:
                return
            close.via = "gateway-2" if victim_dead.is_set() or close.index % 2 else "gateway-1"
            close.sent_at = time.time()
            try:
                close.status, body = clients[close.via].close_agreement(
                    TENANT, [close.debt_id], 1, close.key
                )
                close.agreement_id = body["agreement_id"]
            except GatewayError as exc:
                close.status = exc.status
                close.error = str(exc)[:200]
            except httpx.HTTPError as exc:
                close.error = f"{type(exc).__name__}: {exc}"[:200]
            close.done_at = time.time()
            with done_lock:
                done["all"] += 1

    streaming_at = time.time()
    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="close")
    futures = [pool.submit(work) for _ in range(WORKERS)]
    try:
        wait_for(
            lambda: done["all"] >= KILL_AFTER_CLOSES,
            timeout=120,
            interval=0.1,
            what=f"{KILL_AFTER_CLOSES} agreements closed",
        )

        # The second carteira, through the gateway about to die; kill once it is flowing.
        second = generate_carteira(SECOND_ROWS, seed=12, today=today)
        second_id = cluster.client("gateway-1", "operator").upload_carteira(
            second.encode(), "segunda.csv"
        )["import_id"]
        wait_for(
            lambda: cluster.portal_debt_count() >= accepted_first + 300,
            timeout=120,
            interval=0.05,
            what="the second carteira to be under way in the portal view",
        )
        # Each instance holds some of the partitions (they joined while the first carteira and
        # the first agreements went through).
        wait_for(
            lambda: (
                balanced(cluster, ["negotiation-1", "negotiation-2"], REQUESTS_GROUP, PARTITIONS)
                and balanced(cluster, ["gateway-1", "gateway-2"], PORTAL_GROUP, PORTAL_TOPICS)
            ),
            timeout=30,
            interval=0.1,
            what="both instances of each to hold partitions",
        )
        victim_portal = held(cluster.log("gateway-1"), PORTAL_GROUP)
        victim_requests = held(cluster.log("negotiation-1"), REQUESTS_GROUP)
        before_kill = cluster.projection_offsets("portal_view")
        victim_dead.set()
        killed_at = time.time()
        cluster.kill("negotiation-1")
        cluster.kill("gateway-1")
        in_portal_at_kill = cluster.portal_debt_count()
        closes_at_kill = done["all"]

        # The portal view's positions, every 0.1 s for a minute: when the survivor applied
        # its first batch on the partitions it took over (and on its own, after the rebalance).
        positions: list[tuple[float, dict[tuple[str, int], int]]] = []
        watching = threading.Event()

        def watch() -> None:
            while not watching.is_set() and time.time() < killed_at + 60:
                positions.append((time.time(), cluster.projection_offsets("portal_view")))
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        for future in futures:
            future.result(timeout=300)
    except BaseException:
        stop.set()
        raise
    pool.shutdown()
    streamed_at = time.time()
    closes = [c for c in candidates if c.sent_at]
    assert pending.qsize(), "every debtor got an agreement before the stream ended: add rows"

    # A close that failed (its gateway died under it, or no answer in time while negotiation
    # rebalanced) is retried with the same Idempotency-Key: the same agreement.
    survivor = cluster.client("gateway-2", "operator")
    failed = [c for c in closes if not c.ok]
    retried: Counter[int] = Counter()
    for close in failed:

        def retry(close: Close = close) -> tuple[int, dict[str, Any]] | None:
            try:
                return survivor.close_agreement(TENANT, [close.debt_id], 1, close.key)
            except GatewayError as exc:
                if exc.status == 503:  # no answer in time: a client tries again
                    return None
                raise

        status, body = wait_for(retry, timeout=120, interval=1.0, what=f"a retry of {close}")
        assert body["agreement_id"] == str(agreement_id_for(TENANT, close.key)), close
        retried[status] += 1
        close.agreement_id = body["agreement_id"]
    for close in closes:
        assert close.agreement_id == str(agreement_id_for(TENANT, close.key)), close

    # Everything converges: both carteiras in the portal view once per accepted row (the
    # debts of the portfolio's store, no other), the agreements once each in the store, on
    # the topic and in the portal view.
    second_status = survivor.wait_for_import(second_id, timeout=180)
    for imported, rows in ((first_status, FIRST_ROWS), (second_status, SECOND_ROWS)):
        assert imported["rows_read"] == rows
        assert imported["created"] + imported["rejected"] == rows
    accepted = accepted_first + second_status["created"]
    expected_agreements = {c.agreement_id for c in closes}
    snapshot: dict[str, Any] = {}

    def converged() -> bool:
        portal = cluster.portal_debts()
        stored = cluster.stored_agreements()
        viewed = cluster.portal_agreements()
        closed = [
            json.loads(r.value)
            for r in read_topic(cluster.broker.bootstrap, AGREEMENTS_TOPIC)
            if json.loads(r.value).get("type") == "AgreementClosed"
        ]
        debt_ids = cluster.stored_debts()
        snapshot.update(
            portal=portal,
            stored=stored,
            viewed=viewed,
            closed=closed,
            debts_in_store=debt_ids,
            negotiable=cluster.negotiable_debts(),
        )
        closed_ids = {e["agreement_id"] for e in closed}
        closed_events = {e["event_id"] for e in closed}
        return (
            len(debt_ids) == len(set(debt_ids)) == accepted
            and len(portal) == accepted
            and {r[0] for r in portal} == set(debt_ids)
            and snapshot["negotiable"] == accepted
            and len(stored) == len(set(stored)) == len(expected_agreements)
            and len(viewed) == len(set(viewed)) == len(expected_agreements)
            and set(stored) == set(viewed) == closed_ids == expected_agreements
            and len(closed_events) == len(closed_ids)
            and sum(1 for r in portal if r[2] == "in_agreement") == len(expected_agreements)
        )

    try:
        wait_for(converged, timeout=120, interval=1.0, what="the counts to converge")
    except AssertionError:
        shown = {k: len(v) if isinstance(v, list) else v for k, v in snapshot.items()}
        raise AssertionError(
            f"expected {accepted} debts and {len(expected_agreements)} agreements; got {shown}"
            f"\n{cluster.logs()}"
        ) from None
    converged_at = time.time()
    watching.set()
    watcher.join()

    # Each agreement's debt is shown in that agreement (written by whichever projector held
    # the agreements' partition, the debt's row by whichever held the debts' partition).
    in_agreement = {r[0]: r[3] for r in snapshot["portal"] if r[2] == "in_agreement"}
    assert in_agreement == {c.debt_id: c.agreement_id for c in closes}
    assert cluster.processes["negotiation-2"].running and cluster.processes["gateway-2"].running

    # -- the figures -------------------------------------------------------------------------
    def first_advance(tps: Collection[tuple[str, int]], after: float) -> float | None:
        """When a batch was first applied on one of the partitions after `after`."""
        base = next((p for t, p in reversed(positions) if t <= after), before_kill)
        for t, p in positions:
            if t > after and any(p.get(tp, 0) > base.get(tp, 0) for tp in tps):
                return t
        return None

    took_portal = [
        a for a in assignments(cluster.log("gateway-2"), PORTAL_GROUP) if a.at > killed_at
    ]
    took_requests = [
        a for a in assignments(cluster.log("negotiation-2"), REQUESTS_GROUP) if a.at > killed_at
    ]
    assert took_portal and victim_portal <= took_portal[-1].partitions
    assert took_requests and victim_requests <= took_requests[-1].partitions
    own_portal = took_portal[-1].partitions - victim_portal
    victim_partitions = {p for _, p in victim_requests}
    first_answer = min(
        (
            c.done_at
            for c in closes
            if c.ok
            and c.partition in victim_partitions
            and c.via == "gateway-2"
            and c.done_at >= took_requests[0].at
        ),
        default=None,
    )
    debts_records = read_topic(cluster.broker.bootstrap, DEBTS_TOPIC)
    requests_records = read_topic(cluster.broker.bootstrap, REQUESTS_TOPIC)
    closed = snapshot["closed"]
    failed_batches = cluster.count_in_logs("could not apply a batch")
    locked = cluster.count_in_logs("database is locked")
    statuses = Counter(c.status if c.status is not None else "no answer" for c in failed)

    def since_kill(at: float | None) -> str:
        return "not observed" if at is None else f"{at - killed_at:.1f} s"

    # Rebalances while both instances ran: assignments each group gave, beyond the first two.
    both_ran = Counter(
        a.group
        for name in ("gateway-1", "gateway-2", "negotiation-1", "negotiation-2")
        for a in assignments(cluster.log(name))
        if a.at < killed_at and not a.group.startswith("gateway.replies")
    )
    before = sorted(c.done_at - c.sent_at for c in closes if c.ok and c.done_at < killed_at)
    rate = len(before) / max(killed_at - streaming_at, 1e-9)
    latency = before[len(before) // 2] if before else 0.0
    in_flight = sum(1 for c in closes if c.sent_at < killed_at < c.done_at)

    print()
    print("scale-out: 2 negotiation + 2 gateway instances, Tansu, SQLite, 4 partitions")
    print(
        f"  both gateways ready {ready_at - started:.1f} s after the start; first carteira "
        f"({FIRST_ROWS} rows) imported in {first_imported_at - ready_at:.1f} s"
    )
    print(
        f"  closes: {len(closes)}, {closes_at_kill} done at the kill and {in_flight} in flight "
        f"({rate:.1f}/s over both "
        f"instances, median {latency:.2f} s each), {len(closes) - len(failed)} answered 2xx, "
        f"{len(failed)} failed {dict(statuses)}; retried with the same key: "
        f"{retried[200]} already closed (200), {retried[201]} closed by the retry (201)"
    )
    print(
        f"  second carteira ({SECOND_ROWS} rows): {in_portal_at_kill - accepted_first} in the "
        f"portal view at the kill; {accepted} debts accepted in all"
    )
    print(
        f"  killed: negotiation-1 holding negotiation.requests "
        f"{sorted(p for _, p in victim_requests)}, gateway-1 holding {len(victim_portal)} "
        f"of the portal view's {PORTAL_TOPICS} partitions"
    )
    print(
        f"  portal view: gateway-2 assigned them {since_kill(took_portal[0].at)} after the "
        f"kill, first batch applied there "
        f"{since_kill(first_advance(victim_portal, killed_at))} (on its own partitions "
        f"{since_kill(first_advance(own_portal, took_portal[0].at))})"
    )
    print(
        f"  negotiation.requests: negotiation-2 assigned them "
        f"{since_kill(took_requests[0].at)} after the kill, first answer on one "
        f"{since_kill(first_answer)}"
    )
    print(
        f"  stream done {since_kill(streamed_at)} after the kill, every count converged "
        f"{since_kill(converged_at)} after it"
    )
    print(
        f"  {DEBTS_TOPIC}: {len(debts_records)} records, "
        f"{len({dict(r.headers or ()).get('event-id') for r in debts_records})} distinct events"
    )
    print(
        f"  {AGREEMENTS_TOPIC}: {len(closed)} AgreementClosed records, "
        f"{len({e['event_id'] for e in closed})} distinct events; "
        f"{len(snapshot['stored'])} agreements in the store, {len(snapshot['viewed'])} in the "
        f"portal view; {REQUESTS_TOPIC}: {len(requests_records)} requests"
    )
    print(
        f"  SQLite with two writers: batches read again {sum(failed_batches.values())}, "
        f"'database is locked' {sum(locked.values())} (in the logs)"
    )
    print(f"  assignments per group while both instances ran: {dict(sorted(both_ran.items()))}")
