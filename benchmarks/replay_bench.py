"""Replay-speed benchmark: how fast the projections and the analytics read the event streams.

    python -m benchmarks.replay_bench [--events 1000000] [--seed N] [--json PATH]
                                      [--profile DIR] [--keep]
    make bench-replay [EVENTS=N]

On a temporary data dir it starts the embedded broker (Tansu) alone, builds a stream of
`--events` integration events directly with the contracts' models (no service runs): the
clock's DayStarted, DebtImported placements, and for some debtors an AgreementClosed followed
by what becomes of it (PaymentReceived and InstallmentPaid, InvoiceOverdue, AgreementBroken
with DebtReopened, or AgreementFulfilled with DebtSettled), plus unmatched payments. Every
event is validated by its model on construction, serialized and keyed as the services'
relays do, and published with one batched aiokafka producer. The same seed gives the same
stream. Then it times, on the same topics, one after another:

(a) a plain aiokafka consumer reading every message, decoding nothing: the baseline (the
    best of three reads, as every ratio divides by it);
(b) the same consumer validating every message with the contracts (`parse_event`);
(c) `cobranca replay` of every gateway projection that reads these topics, each into a new
    SQLite file loaded in bulk (the code the command runs: `service_runtime.projection.replay`),
    one after another (the total is the stream's events over the sum of their times), then
    all of them in one pass, as the command does by default (`replay_together`); and a floor
    under it: the rows the one pass left, written again with plain sqlite3 `executemany` into
    empty tables with the same indexes (what SQLite alone takes to hold them);
(d) `cobranca analytics fpd`: the analytics replay (`analytics.replay.replay_facts`) and the
    indicator (`analytics.indicators.fpd`, FPD-5 by cohort and channel).

Each is timed from its start (consumer created) to its end, as a user waits for it; "after
last" is what (c) and (d) take after reading their last event. Events per second and the
ratio to (a) are printed and written as JSON (bench-out/replay.json by default), with the CPU
each step used in this process and in the broker (µs per event: other load on the machine
lowers the rates but hardly changes these), the time spent in Python's garbage collector, and
how busy the whole machine was meanwhile (above ~50%, something else competed for the two
cores).

`--profile DIR` then runs (c) and (d) again under cProfile (the projection's batches run in a
worker thread: they are profiled there) and prints where their time goes; it slows them down,
so take the rates from the timed runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import functools
import gc
import json
import os
import pstats
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from analytics import indicators
from analytics.replay import TOPICS as ANALYTICS_TOPICS
from analytics.replay import replay_facts
from benchmarks.import_bench import (
    CLOCK_TICKS,
    machine_busy,
    machine_info,
    machine_ticks,
    proc_stat,
    sigterm_as_interrupt,
)
from cobranca.brokers import EmbeddedBroker
from cobranca.platform import make_broker
from contracts.clock import PLATFORM_TENANT, DayStarted
from contracts.documents import generate_cpf
from contracts.envelope import Envelope
from contracts.negotiation import (
    AgreementBroken,
    AgreementClosed,
    AgreementDebt,
    AgreementFulfilled,
    AgreementInstallment,
    BrokenAgreementDebt,
    InstallmentPaidV2,
    InvoiceOverdueV2,
    PaymentConditionTerms,
    PaymentReceived,
)
from contracts.portfolio import (
    IMPORTS_TOPIC,
    DebtImported,
    DebtorContact,
    DebtReopened,
    DebtSettled,
)
from contracts.registry import parse_event
from contracts.topics import TOPICS as TOPIC_SPECS
from service_runtime.database import bulk_loaded_sqlite, engine_from_url
from service_runtime.kafka import ensure_topics, partitions_of
from service_runtime.outbox import headers_for
from service_runtime.personal_data import SqlKeyVault
from service_runtime.projection import (
    Projection,
    RecordsByPartition,
    TogetherApplier,
    replay_together,
)
from service_runtime.projection import replay as replay_projection
from services.gateway.entrypoints.main import PROJECTION_TOPICS, build_projections
from services.portfolio.domain.debt import debt_id_for

DEFAULT_EVENTS = 1_000_000
DEFAULT_SEED = 2026
DEFAULT_JSON = Path("bench-out/replay.json")
TARGET_RATIO = 0.25
# The streams the indicators read and the benchmark fills; every event of the benchmark goes
# to one of them (its debts are placed directly: no import's progress, which the analytics
# read only for the carteira's file name).
STREAM_TOPICS: tuple[str, ...] = tuple(t for t in ANALYTICS_TOPICS if t != IMPORTS_TOPIC)
# Gateway projections that read any of them (call_list and timeline also read topics the
# benchmark leaves empty, as a real platform would have them).
REPLAYED = tuple(
    name for name, topics in PROJECTION_TOPICS.items() if set(topics) & set(STREAM_TOPICS)
)
FPD_K = 5
FPD_BY = ("cohort", "channel")
BASELINE_ATTEMPTS = 3
READ_BATCH = 5000  # records per getmany in (a) and (b), as the analytics replay reads
SEND_WINDOW = 20_000  # messages in flight before the producer's futures are awaited
STALL_SECONDS = 60.0  # (a)/(b) give up after this long without a new record

console = Console(width=None if sys.stdout.isatty() else 150)


# -- the stream ------------------------------------------------------------------------------
START = dt.date(2026, 1, 5)  # the business clock's first date (a Monday)
DAYS = 365
TENANTS = ("bench-a", "bench-b")
CREDITORS = (  # (name, contract prefix, weight)
    ("Banco Horizonte", "BH", 30),
    ("Varejo Bom Preço", "VB", 20),
    ("Telefonia Conecta", "TC", 15),
    ("Financeira Aurora", "FA", 15),
    ("Energia Paulista", "EP", 10),
    ("Universidade Vale", "UV", 10),
)
CATEGORIES = ("cartão de crédito", "crediário", "conta de consumo", "empréstimo pessoal")
FIRST_NAMES = ("Ana", "Bruno", "Carla", "Davi", "Eva", "Fábio", "Gabriela", "Heitor", "Iara")
LAST_NAMES = ("Silva", "Souza", "Oliveira", "Santos", "Pereira", "Lima", "Carvalho", "Gomes")
CITIES = (("São Paulo", "SP"), ("Campinas", "SP"), ("Rio de Janeiro", "RJ"), ("Recife", "PE"))
OPERATORS = tuple(f"operador{n}@bench" for n in range(1, 9))
# Days overdue at placement: (low, high, weight) per aging bucket.
AGING = ((1, 30, 15), (31, 90, 25), (91, 180, 20), (181, 360, 20), (361, 1500, 20))
CHANNELS = (("portal", 45), ("chatbot", 30), ("operator", 25))
INSTALLMENTS = ((1, 30), (2, 15), (3, 15), (4, 10), (6, 12), (10, 10), (12, 8))
CHARGES_DISCOUNT_PCT = (0, 50, 80, 100)
PRINCIPAL_DISCOUNT_PCT = (0, 0, 0, 10, 20, 30)


def _place(installment: AgreementInstallment, plan: list[AgreementInstallment]) -> dict[str, Any]:
    """An invoice's place in its plan, as versions 2 of its events say it."""
    return {
        "installment_kind": installment.kind,
        "installments": len(plan),
        "with_down_payment": plan[0].kind == "down_payment",
    }


def _weighted(rng: random.Random, options: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    return rng.choices(options, weights=[o[-1] for o in options])[0]


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _at(day: dt.date, seconds: int = 0) -> dt.datetime:
    """An instant on a business date: the day starts at 06:00 in Sao Paulo (09:00 UTC)."""
    return dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


@dataclass
class StreamStats:
    by_type: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    debtors: int = 0
    agreements: int = 0


class StreamBuilder:
    """A plausible history of placements, agreements, payments and breaks, one debtor at a
    time, each event built (and so validated) by its contract's model. Deterministic for a
    seed; only events dated on or before the clock's last day are emitted."""

    def __init__(self, seed: int, days: int = DAYS) -> None:
        self.rng = random.Random(seed)
        self.ids = random.Random(seed + 1)
        self.seed = seed
        self.days = days
        self.end = START + dt.timedelta(days=days - 1)
        self.seq = 0
        self.terms: dict[tuple[int, int, int], PaymentConditionTerms] = {}

    def _uuid(self) -> uuid.UUID:
        # From their own generator: ids do not change the history the seed draws.
        return uuid.UUID(int=self.ids.getrandbits(128), version=4)

    def _env(
        self, aggregate_id: str, version: int, at: dt.datetime, tenant: str, correlation: str
    ) -> dict[str, Any]:
        self.seq += 1
        return {
            "event_id": self._uuid(),
            "occurred_at": at,
            "tenant": tenant,
            "aggregate_id": aggregate_id,
            "aggregate_version": version,
            "correlation_id": correlation,
            "causation_id": correlation,
        }

    def days_started(self) -> Iterator[Envelope]:
        for index in range(self.days):
            day = START + dt.timedelta(days=index)
            yield DayStarted(
                **self._env("calendar", index + 1, _at(day), PLATFORM_TENANT, f"day-{day}"),
                date=day,
                business_day=day.weekday() < 5,
                mode="manual",
            )

    def _condition(self, n: int, charges_pct: int, principal_pct: int) -> PaymentConditionTerms:
        key = (n, charges_pct, principal_pct)
        if key not in self.terms:
            self.terms[key] = PaymentConditionTerms(
                installments=n,
                charges_discount_pct=Decimal(charges_pct),
                principal_discount_pct=Decimal(principal_pct),
                min_down_payment_pct=Decimal(20 if n > 1 else 0),
                days_to_first_due=3,
            )
        return self.terms[key]

    def debtor(self) -> list[Envelope]:
        """Everything that happens to one debtor, in the order it happens."""
        rng = self.rng
        tenant = rng.choice(TENANTS)
        creditor, prefix, _ = _weighted(rng, CREDITORS)
        document = generate_cpf(rng)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)} {rng.choice(LAST_NAMES)}"
        city, state = rng.choice(CITIES)
        contact = DebtorContact(
            name=name,
            email=f"{document}@exemplo.com.br",
            phone=f"119{rng.randrange(10**8):08d}",
            city=city,
            state=state,
        )
        category = rng.choice(CATEGORIES)
        place_index = rng.randrange(self.days)
        placed_on = START + dt.timedelta(days=place_index)
        placed_at = _at(placed_on, rng.randrange(36_000))
        low, high, _ = _weighted(rng, AGING)
        overdue = rng.randint(low, high)
        carteira = f"{tenant}-{prefix}-{placed_on:%Y-%m}"
        events: list[Envelope] = []
        debts: list[DebtImported] = []
        for number in range(rng.choices((1, 2, 3), weights=(70, 22, 8))[0]):
            contract = f"{prefix}{rng.randrange(10**9):09d}"
            debt_id = str(debt_id_for(tenant, creditor, contract, "1"))
            debt = DebtImported(
                **self._env(debt_id, 1, placed_at, tenant, carteira),
                debt_id=debt_id,
                document=document,
                document_kind="cpf",
                debtor=contact,
                creditor=creditor,
                contract=contract,
                installment="1",
                original_amount_cents=int(rng.lognormvariate(11.2, 0.9)) + 5_000,
                due_date=placed_on - dt.timedelta(days=overdue + 30 * number),
                category=category,
                import_id=carteira,
                row_key=f"row-{self.seq}",
            )
            debts.append(debt)
            events.append(debt)
        # Fresher debts close more agreements.
        bucket = next(i for i, (_, top, _) in enumerate(AGING) if overdue <= top)
        if rng.random() < 0.45 - 0.05 * bucket:
            close_index = place_index + 1 + int(rng.expovariate(1 / 25))
            if close_index < self.days:
                events.extend(self._agreement(debts, START + dt.timedelta(days=close_index)))
        if rng.random() < 0.02:
            events.append(self._unmatched(tenant, placed_on))
        return events

    def _agreement(self, debts: list[DebtImported], closed_on: dt.date) -> list[Envelope]:
        rng = self.rng
        first = debts[0]
        tenant, document, creditor = first.tenant, first.document, first.creditor
        agreement_id = str(self._uuid())
        channel = _weighted(rng, CHANNELS)[0]
        n = _weighted(rng, INSTALLMENTS)[0]
        charges_pct = rng.choice(CHARGES_DISCOUNT_PCT)
        principal_pct = rng.choice(PRINCIPAL_DISCOUNT_PCT)
        condition = self._condition(n, charges_pct, principal_pct)
        lines: list[AgreementDebt] = []
        for debt in debts:
            days_overdue = max(0, (closed_on - debt.due_date).days)
            principal = debt.original_amount_cents
            penalty = principal * 2 // 100
            interest = min(principal, principal * days_overdue // 3000)
            lines.append(
                AgreementDebt(
                    debt_id=debt.debt_id,
                    contract=debt.contract,
                    installment=debt.installment,
                    due_date=debt.due_date,
                    principal_cents=principal,
                    penalty_cents=penalty,
                    interest_cents=interest,
                    correction_cents=0,
                    updated_value_cents=principal + penalty + interest,
                    days_overdue=days_overdue,
                )
            )
        principal = sum(d.principal_cents for d in lines)
        charges = sum(d.penalty_cents + d.interest_cents for d in lines)
        principal_discount = principal * principal_pct // 100
        charges_discount = charges * charges_pct // 100
        total = principal + charges - principal_discount - charges_discount
        down = total * 20 // 100 if n > 1 else total
        rest = [(total - down) // (n - 1)] * (n - 1) if n > 1 else []
        if rest:
            rest[-1] += total - down - sum(rest)
        first_due = closed_on + dt.timedelta(days=condition.days_to_first_due)
        installments = []
        for number, amount in enumerate([down, *rest], start=1):
            self.seq += 1
            digits = f"{self.seq:020d}{rng.randrange(10**20):020d}"
            installments.append(
                AgreementInstallment(
                    number=number,
                    kind="down_payment" if n > 1 and number == 1 else "installment",
                    due_date=_add_months(first_due, number - 1),
                    amount_cents=amount,
                    invoice_id=str(self._uuid()),
                    nosso_numero=f"{self.seq:011d}",
                    barcode="2379" + digits,
                    digitable_line="23790" + digits + "12",
                    pix_txid=f"BENCH{self.seq:020d}",
                    pix_code=(
                        "00020101021226860014br.gov.bcb.pix2564pix.exemplo.com.br/qr/v2/"
                        f"{uuid.UUID(int=rng.getrandbits(128))}520400005303986540"
                        f"{amount / 100:.2f}5802BR5913BENCH LTDA6009SAO PAULO62070503***6304ABCD"
                    ),
                )
            )
        version = 1
        events: list[Envelope] = [
            AgreementClosed(
                **self._env(
                    agreement_id,
                    version,
                    _at(closed_on, rng.randrange(36_000)),
                    tenant,
                    agreement_id,
                ),
                agreement_id=agreement_id,
                document=document,
                debtor_name=first.debtor.name,
                creditor=creditor,
                debt_ids=[d.debt_id for d in debts],
                debts=lines,
                channel=channel,
                operator=rng.choice(OPERATORS) if channel == "operator" else None,
                condition_id=f"cond-{n}-{charges_pct}-{principal_pct}",
                condition=condition,
                closed_on=closed_on,
                principal_cents=principal,
                charges_cents=charges,
                updated_value_cents=principal + charges,
                principal_discount_cents=principal_discount,
                charges_discount_cents=charges_discount,
                discount_cents=principal_discount + charges_discount,
                total_cents=total,
                installments=installments,
            )
        ]
        # What becomes of it: the first installment never paid (FPD), a later one never paid
        # (a break after 30 days), or every one paid (mostly on time).
        fpd = 0.2 + (0.08 if channel == "operator" else 0) + 0.01 * n
        stop = 1 if rng.random() < fpd else None
        for number in range(2, n + 1):
            if stop is None and rng.random() < 0.05:
                stop = number
        principals = [d.principal_cents for d in lines]
        paid_total = 0
        last_paid = closed_on
        for inst in installments:
            if inst.number == stop:
                for late in (1, 3):
                    on = inst.due_date + dt.timedelta(days=late)
                    if on <= self.end:
                        version += 1
                        events.append(
                            InvoiceOverdueV2(
                                **self._env(agreement_id, version, _at(on), tenant, agreement_id),
                                invoice_id=inst.invoice_id,
                                agreement_id=agreement_id,
                                document=document,
                                creditor=creditor,
                                installment_number=inst.number,
                                due_date=inst.due_date,
                                amount_cents=inst.amount_cents,
                                balance_cents=inst.amount_cents,
                                days_overdue=late,
                                as_of=on,
                                **_place(inst, installments),
                            )
                        )
                after = 5 if inst.number == 1 else 30
                broken_on = inst.due_date + dt.timedelta(days=after)
                if broken_on <= self.end:
                    version += 1
                    shares = indicators.split_by_principal(paid_total, principals)
                    events.append(
                        AgreementBroken(
                            **self._env(
                                agreement_id, version, _at(broken_on), tenant, agreement_id
                            ),
                            agreement_id=agreement_id,
                            document=document,
                            creditor=creditor,
                            broken_on=broken_on,
                            rule="first_installment" if inst.number == 1 else "later_installment",
                            installment_number=inst.number,
                            days_overdue=after,
                            paid_cents=paid_total,
                            debts=[
                                BrokenAgreementDebt(
                                    debt_id=d.debt_id, paid_cents=s, balance_cents=max(0, p - s)
                                )
                                for d, s, p in zip(lines, shares, principals, strict=True)
                            ],
                        )
                    )
                    for d, s, p in zip(lines, shares, principals, strict=True):
                        events.append(
                            DebtReopened(
                                **self._env(d.debt_id, 2, _at(broken_on, 60), tenant, agreement_id),
                                debt_id=d.debt_id,
                                document=document,
                                creditor=creditor,
                                contract=d.contract,
                                installment=d.installment,
                                agreement_id=agreement_id,
                                reopened_on=broken_on,
                                paid_cents=s,
                                balance_cents=max(0, p - s),
                            )
                        )
                return events
            late = 0 if rng.random() < 0.8 else rng.randint(1, 12)
            paid_on = inst.due_date + dt.timedelta(days=late)
            if paid_on > self.end:
                return events  # still running when the clock stops
            if late:
                version += 1
                events.append(
                    InvoiceOverdueV2(
                        **self._env(
                            agreement_id,
                            version,
                            _at(inst.due_date + dt.timedelta(days=1)),
                            tenant,
                            agreement_id,
                        ),
                        invoice_id=inst.invoice_id,
                        agreement_id=agreement_id,
                        document=document,
                        creditor=creditor,
                        installment_number=inst.number,
                        due_date=inst.due_date,
                        amount_cents=inst.amount_cents,
                        balance_cents=inst.amount_cents,
                        days_overdue=1,
                        as_of=inst.due_date + dt.timedelta(days=1),
                        **_place(inst, installments),
                    )
                )
            excess = rng.randrange(1, 5_000) if rng.random() < 0.03 else 0
            payment_id = str(self._uuid())
            events.append(
                PaymentReceived(
                    **self._env(payment_id, 1, _at(paid_on, 3_600), tenant, payment_id),
                    payment_id=payment_id,
                    source=rng.choice(("cnab240", "api")),
                    reference=f"bench:{self.seq}",
                    invoice_id=inst.invoice_id,
                    nosso_numero=inst.nosso_numero,
                    agreement_id=agreement_id,
                    document=document,
                    installment_number=inst.number,
                    amount_cents=inst.amount_cents + excess,
                    paid_on=paid_on,
                    outcome="excess" if excess else "paid",
                    applied_cents=inst.amount_cents,
                    balance_cents=0,
                    credit_cents=excess,
                )
            )
            version += 1
            events.append(
                InstallmentPaidV2(
                    **self._env(agreement_id, version, _at(paid_on, 3_660), tenant, agreement_id),
                    agreement_id=agreement_id,
                    invoice_id=inst.invoice_id,
                    document=document,
                    creditor=creditor,
                    installment_number=inst.number,
                    due_date=inst.due_date,
                    amount_cents=inst.amount_cents,
                    paid_cents=inst.amount_cents,
                    paid_on=paid_on,
                    days_late=late,
                    payment_ids=[payment_id],
                    **_place(inst, installments),
                )
            )
            paid_total += inst.amount_cents
            last_paid = paid_on
        version += 1
        events.append(
            AgreementFulfilled(
                **self._env(agreement_id, version, _at(last_paid, 3_720), tenant, agreement_id),
                agreement_id=agreement_id,
                document=document,
                creditor=creditor,
                debt_ids=[d.debt_id for d in lines],
                fulfilled_on=last_paid,
                paid_cents=paid_total,
            )
        )
        shares = indicators.split_by_principal(paid_total, principals)
        for d, share in zip(lines, shares, strict=True):
            events.append(
                DebtSettled(
                    **self._env(d.debt_id, 2, _at(last_paid, 3_780), tenant, agreement_id),
                    debt_id=d.debt_id,
                    document=document,
                    creditor=creditor,
                    contract=d.contract,
                    installment=d.installment,
                    agreement_id=agreement_id,
                    settled_on=last_paid,
                    paid_cents=share,
                )
            )
        return events

    def _unmatched(self, tenant: str, around: dt.date) -> PaymentReceived:
        on = min(self.end, around + dt.timedelta(days=self.rng.randrange(60)))
        payment_id = str(self._uuid())
        return PaymentReceived(
            **self._env(payment_id, 1, _at(on, 7_200), tenant, payment_id),
            payment_id=payment_id,
            source="cnab240",
            reference=f"bench:{self.seq}",
            nosso_numero=f"9{self.seq:010d}",
            amount_cents=self.rng.randrange(1_000, 200_000),
            paid_on=on,
            outcome="unmatched",
            applied_cents=0,
            balance_cents=0,
            credit_cents=0,
            reason="nenhum boleto com este nosso número",
        )

    def events(self, count: int, stats: StreamStats) -> Iterator[Envelope]:
        """Exactly `count` events: the clock's days first, then debtor after debtor (the
        last one's history cut where the count ends)."""
        emitted = 0
        for event in self.days_started():
            if emitted == count:
                return
            emitted += 1
            yield event
        while emitted < count:
            history = self.debtor()
            stats.debtors += 1
            for event in history[: count - emitted]:
                stats.agreements += isinstance(event, AgreementClosed)
                yield event
            emitted += min(len(history), count - emitted)


TOPIC_OF: dict[type[Envelope], str] = {
    model: spec.name for spec in TOPIC_SPECS for model in spec.events
}


async def publish(bootstrap: str, builder: StreamBuilder, count: int) -> StreamStats:
    """Every event serialized, keyed and with the headers the services' relays give it."""
    stats = StreamStats()
    await ensure_topics(bootstrap)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=False,
        linger_ms=20,
        max_batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
        request_timeout_ms=60_000,
    )
    await producer.start()
    try:
        pending: list[asyncio.Future[Any]] = []
        for event in builder.events(count, stats):
            topic = TOPIC_OF[type(event)]
            value = event.model_dump_json().encode()
            stats.by_type[event.type] += 1
            stats.by_topic[topic] += 1
            stats.bytes += len(value)
            pending.append(
                await producer.send(
                    topic,
                    value=value,
                    key=event.partition_key(),
                    headers=[(k, v.encode()) for k, v in headers_for(event).items()],
                )
            )
            if len(pending) >= SEND_WINDOW:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return stats


# -- the timed reads -------------------------------------------------------------------------
@dataclass
class Step:
    key: str
    label: str
    events: int
    seconds: float
    # Seconds from the start to the last event read and handled (None: not known).
    last_event_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # CPU seconds of this process (every thread) and of the broker during the step, and how
    # busy the whole machine was (0..1 of all cores; above what the two use: other load).
    cpu_s: float | None = None
    broker_cpu_s: float | None = None
    machine_busy: float | None = None
    # Seconds this process spent in Python's cyclic garbage collector (full collections: the
    # ones that walk every live object) during the step.
    gc_s: float | None = None
    gc_full: int | None = None

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class Meter:
    """CPU used by this process and the broker over a step, and the machine's load."""

    def __init__(self, broker_pid: int | None) -> None:
        self.broker_pid = broker_pid
        self._gc_started: float | None = None
        self._gc_s = 0.0
        self._gc_full = 0

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started is not None:
            self._gc_s += time.perf_counter() - self._gc_started
            self._gc_full += info["generation"] == 2
            self._gc_started = None

    def _broker_ticks(self) -> int | None:
        found = proc_stat(self.broker_pid) if self.broker_pid else None
        return found[0] if found else None

    def measure(self, timed: Callable[[], Step]) -> Step:
        cpu, broker, machine = own_cpu(), self._broker_ticks(), machine_ticks()
        self._gc_s, self._gc_full = 0.0, 0
        gc.callbacks.append(self._on_gc)
        try:
            step = timed()
        finally:
            gc.callbacks.remove(self._on_gc)
        step.cpu_s = own_cpu() - cpu
        step.gc_s, step.gc_full = self._gc_s, self._gc_full
        broker_after, machine_after = self._broker_ticks(), machine_ticks()
        if broker is not None and broker_after is not None:
            step.broker_cpu_s = (broker_after - broker) / CLOCK_TICKS
        if machine is not None and machine_after is not None and machine_after[1] > machine[1]:
            step.machine_busy = (machine_after[0] - machine[0]) / (machine_after[1] - machine[1])
        return step


def own_cpu() -> float:
    """CPU seconds of this process and of its children it has waited for: a replay's reading
    process (service_runtime.topic_reader) counts with the replay."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


async def plain_read(bootstrap: str, expected: int, validate: bool) -> tuple[int, int]:
    """Read the stream's topics from offset zero with no consumer group, as the analytics
    replay does, until `expected` records came; with `validate`, parse every one with the
    contracts. Returns (records, bytes)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="replay-bench",
    )
    read = size = 0
    await consumer.start()
    try:
        known = await partitions_of(consumer, STREAM_TOPICS)
        tps = [TopicPartition(t, p) for t in STREAM_TOPICS for p in sorted(known[t])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        last_progress = time.perf_counter()
        while read < expected:
            batch = await consumer.getmany(timeout_ms=1000, max_records=READ_BATCH)
            if not batch:
                if time.perf_counter() - last_progress > STALL_SECONDS:
                    raise RuntimeError(f"only {read:,} of {expected:,} records came")
                continue
            last_progress = time.perf_counter()
            for records in batch.values():
                read += len(records)
                for record in records:
                    size += len(record.value)
                    if validate:
                        parse_event(record.value)
    finally:
        await consumer.stop()
    return read, size


def time_plain(bootstrap: str, expected: int, validate: bool) -> Step:
    started = time.perf_counter()
    read, size = asyncio.run(plain_read(bootstrap, expected, validate))
    seconds = time.perf_counter() - started
    if read != expected:
        raise RuntimeError(f"read {read:,} records, {expected:,} published")
    if validate:
        return Step("b_validate", "(b) read + parse_event (contracts)", read, seconds, seconds)
    return Step(
        "a_plain", "(a) plain aiokafka read, no decoding", read, seconds, seconds, {"bytes": size}
    )


class LastEvent:
    """A progress callback: when the last of `expected` records was handled."""

    def __init__(self, expected: int, started: float) -> None:
        self.expected = expected
        self.started = started
        self.at: float | None = None

    def __call__(self, done: int, total: int) -> None:
        if done >= self.expected and self.at is None:
            self.at = time.perf_counter() - self.started


@contextlib.contextmanager
def rebuild_target(directory: Path, name: str) -> Iterator[tuple[Engine, dict[str, Projection]]]:
    """A new SQLite file to rebuild into, loaded in bulk as `cobranca replay --target-url`
    loads a file that does not exist yet, and the gateway's projections with a key vault of
    their own (as the command opens the platform's)."""
    vault = SqlKeyVault(engine_from_url(f"sqlite:///{directory / 'keys.sqlite'}"))
    try:
        with bulk_loaded_sqlite(directory / f"replay-{name}.sqlite") as engine:
            yield engine, build_projections(vault)
    finally:
        vault.engine.dispose()


def time_projection(name: str, bootstrap: str, directory: Path, expected: int) -> Step:
    """`cobranca replay NAME --target-url sqlite:///fresh.sqlite`: the same call."""
    with rebuild_target(directory, name) as (engine, built):
        started = time.perf_counter()
        last = LastEvent(expected, started)
        count = asyncio.run(
            replay_projection(built[name], engine, bootstrap, progress=last, bulk=True)
        )
        seconds = time.perf_counter() - started
    if count != expected:
        raise RuntimeError(f"{name}: replayed {count:,} records, {expected:,} in its topics")
    return Step(
        f"c_{name}",
        f"(c) cobranca replay {name}",
        count,
        seconds,
        last.at,
        {"topics": [t for t in PROJECTION_TOPICS[name] if t in STREAM_TOPICS]},
    )


def time_together(
    names: tuple[str, ...], bootstrap: str, directory: Path, expected: dict[str, int], events: int
) -> Step:
    """`cobranca replay NAME... --target-url sqlite:///fresh.sqlite`: every projection in one
    pass over their topics, as the command does."""
    with rebuild_target(directory, "together") as (engine, built):
        started = time.perf_counter()
        counts = asyncio.run(
            replay_together([built[n] for n in names], engine, bootstrap, bulk=True)
        )
        seconds = time.perf_counter() - started
    if counts != expected:
        raise RuntimeError(f"replayed {counts}, expected {expected}")
    return Step(
        "c_together",
        f"(c) cobranca replay {' '.join(names)} (one pass; stream events)",
        events,
        seconds,
        None,
        {"projections": list(names), "records": counts},
    )


Rows = dict[str, list[tuple[Any, ...]]]


def final_rows(directory: Path) -> tuple[list[str], Rows]:
    """The schema (tables first, then indexes) and every row the one pass left in its file."""
    source = sqlite3.connect(directory / "replay-together.sqlite")
    try:
        schema = source.execute(
            "SELECT type, name, sql FROM sqlite_master "
            "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index'"
        ).fetchall()
        rows = {
            name: source.execute(f'SELECT * FROM "{name}"').fetchall()
            for kind, name, _ in schema
            if kind == "table"
        }
    finally:
        source.close()
    return [sql for _, _, sql in schema], rows


def time_floor(directory: Path, schema: list[str], rows: Rows, events: int) -> Step:
    """The one pass's final rows written again with plain sqlite3 `executemany` into empty
    tables, their indexes built after them, in one transaction, loaded in bulk as the rebuild
    is: a floor no rebuild into these read models can go beneath (it reads, parses and works
    out nothing, writes each row once, as it ends, and builds every index from whole tables,
    where the rebuild builds only the readers' ones so)."""
    tables = [
        sql for sql in schema if not sql.upper().startswith(("CREATE INDEX", "CREATE UNIQUE"))
    ]
    indexes = [sql for sql in schema if sql not in tables]
    with bulk_loaded_sqlite(directory / "floor.sqlite") as engine:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            for sql in tables:
                cursor.execute(sql)
            connection.commit()
            started = time.perf_counter()
            for name, table_rows in rows.items():
                if table_rows:
                    marks = ", ".join("?" * len(table_rows[0]))
                    cursor.executemany(f'INSERT INTO "{name}" VALUES ({marks})', table_rows)
            for sql in indexes:
                cursor.execute(sql)
            connection.commit()
            seconds = time.perf_counter() - started
        finally:
            connection.close()
    return Step(
        "c_floor",
        "(c) floor: the one pass's final rows, plain sqlite3 executemany, one transaction",
        events,
        seconds,
        None,
        {"rows": sum(len(r) for r in rows.values())},
    )


def time_fpd(bootstrap: str, expected: int) -> Step:
    """`cobranca analytics fpd --grace-days 5 --by cohort --by channel`: the replay, then the
    indicator (the table's rows; printing them is left out)."""
    started = time.perf_counter()
    last = LastEvent(expected, started)
    replayed = asyncio.run(replay_facts(bootstrap, progress=last))
    replay_s = time.perf_counter() - started
    as_of = replayed.as_of
    assert as_of is not None
    rows = indicators.fpd(replayed.facts, k=FPD_K, as_of=as_of, by=FPD_BY)
    records = indicators.as_records(rows, FPD_BY)
    seconds = time.perf_counter() - started
    if replayed.read != expected or replayed.skipped:
        raise RuntimeError(f"analytics read {replayed.read:,} ({replayed.skipped} skipped)")
    total = indicators.fpd(replayed.facts, k=FPD_K, as_of=as_of)[0]
    return Step(
        "d_fpd",
        f"(d) cobranca analytics fpd -k {FPD_K} --by {' --by '.join(FPD_BY)}",
        replayed.read,
        seconds,
        last.at,
        {
            "replay_s": replay_s,
            "indicator_s": seconds - replay_s,
            "as_of": as_of.isoformat(),
            "agreements": len(replayed.facts.agreements),
            "placements": len(replayed.facts.placements),
            "fpd_rows": len(records),
            "fpd_total": {"mature": total.agreements, "defaulted": total.defaulted},
        },
    )


# -- profiling -------------------------------------------------------------------------------
PROJECT_DIRS = ("analytics/", "contracts/", "service_runtime/", "services/", "cobranca/")


@dataclass
class ProfileSummary:
    name: str
    total_s: float
    own: list[tuple[str, float]]  # (function, seconds of its own time)
    inclusive: list[tuple[str, float]]  # project functions, (function, cumulative seconds)


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name  # a built-in
    for marker in PROJECT_DIRS:
        if marker in filename:
            return f"{marker}{filename.split(marker, 1)[1]}:{line} {name}"
    if "site-packages/" in filename:
        return f"{filename.split('site-packages/', 1)[1]}:{line} {name}"
    return f"{Path(filename).name}:{line} {name}"


def summarize(name: str, stats: pstats.Stats, top: int = 12) -> ProfileSummary:
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in entries.values())
    own = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    project = [
        (func, value)
        for func, value in entries.items()
        if any(d in func[0] for d in PROJECT_DIRS) and "benchmarks/" not in func[0]
    ]
    inclusive = sorted(project, key=lambda kv: kv[1][3], reverse=True)[:top]
    return ProfileSummary(
        name,
        total,
        [(_where(f), v[2]) for f, v in own],
        [(_where(f), v[3]) for f, v in inclusive],
    )


def profile_runs(
    bootstrap: str, directory: Path, expected: dict[str, int], total: int, out: Path
) -> list[ProfileSummary]:
    """(c) and (d) again under cProfile; the projections' batches, applied in a worker
    thread, are profiled in that thread and added in."""
    out.mkdir(parents=True, exist_ok=True)
    summaries = []
    original = TogetherApplier.apply_records
    runs: list[tuple[str, str, Callable[[], object]]] = [
        (
            f"replay-{name}",
            f"cobranca replay {name}",
            functools.partial(
                time_projection, name, bootstrap, directory / "profiled", expected[name]
            ),
        )
        for name in REPLAYED
    ]
    runs.append(
        (
            "replay-together",
            f"cobranca replay {' '.join(REPLAYED)} (one pass)",
            functools.partial(
                time_together, REPLAYED, bootstrap, directory / "profiled", expected, total
            ),
        )
    )
    for filename, label, run_it in runs:
        thread_profiles: list[cProfile.Profile] = []

        def profiled(
            self: TogetherApplier,
            records_by_tp: RecordsByPartition,
            into: list[cProfile.Profile] = thread_profiles,
        ) -> None:
            prof = cProfile.Profile()
            prof.enable()
            try:
                original(self, records_by_tp)
            finally:
                prof.disable()
                into.append(prof)

        main = cProfile.Profile()
        TogetherApplier.apply_records = profiled  # type: ignore[method-assign]
        try:
            main.enable()
            run_it()
        finally:
            main.disable()
            TogetherApplier.apply_records = original  # type: ignore[method-assign]
        stats = pstats.Stats(main)
        for prof in thread_profiles:
            stats.add(prof)
        stats.dump_stats(out / f"{filename}.prof")
        summaries.append(summarize(label, stats))
    main = cProfile.Profile()
    main.enable()
    time_fpd(bootstrap, total)
    main.disable()
    stats = pstats.Stats(main)
    stats.dump_stats(out / "analytics-fpd.prof")
    summaries.append(summarize("cobranca analytics fpd", stats))
    return summaries


def print_profiles(summaries: list[ProfileSummary]) -> None:
    for summary in summaries:
        table = Table(title=f"cProfile, {summary.name}: {summary.total_s:.1f} s of own time")
        table.add_column("own time (function)")
        table.add_column("s", justify="right")
        table.add_column("%", justify="right")
        table.add_column("project function, inclusive")
        table.add_column("s", justify="right")
        for i in range(max(len(summary.own), len(summary.inclusive))):
            own = summary.own[i] if i < len(summary.own) else ("", 0.0)
            inc = summary.inclusive[i] if i < len(summary.inclusive) else ("", 0.0)
            table.add_row(
                own[0],
                f"{own[1]:.2f}" if own[0] else "",
                f"{own[1] / summary.total_s * 100:.1f}" if own[0] and summary.total_s else "",
                inc[0],
                f"{inc[1]:.2f}" if inc[0] else "",
            )
        console.print(table)


# -- report ----------------------------------------------------------------------------------
def print_report(steps: list[Step], baseline: Step, machine: dict[str, Any]) -> None:
    table = Table(
        title="Replay benchmark: each step from its start to its end (CPU: µs per event of "
        "this process with the replay's reading process, and of the broker, which other load "
        "on the machine hardly changes)"
    )
    columns = (
        "step",
        "events",
        "seconds",
        "events/s",
        "÷ (a)",
        "after last event s",
        "CPU µs/ev",
        "broker µs/ev",
        "GC s",
        "machine busy",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "step" else "right")
    for step in steps:
        ratio = step.rate / baseline.rate if baseline.rate else 0.0
        tail = (
            f"{step.seconds - step.last_event_s:.2f}"
            if step.last_event_s is not None and step.key not in ("a_plain", "b_validate")
            else ""
        )
        label = f"[bold]{step.label}[/]" if step.key in ("c_together", "d_fpd") else step.label
        table.add_row(
            label,
            f"{step.events:,}",
            f"{step.seconds:.2f}",
            f"{step.rate:,.0f}",
            f"{ratio:.1%}",
            tail,
            f"{step.cpu_s / step.events * 1e6:.0f}" if step.cpu_s is not None else "",
            f"{step.broker_cpu_s / step.events * 1e6:.0f}" if step.broker_cpu_s is not None else "",
            f"{step.gc_s:.2f}" if step.gc_s is not None else "",
            f"{step.machine_busy:.0%}" if step.machine_busy is not None else "",
        )
    console.print(table)
    for step in steps:
        # Each projection's replay (`cobranca replay NAME`), all of them in one pass (`cobranca
        # replay`), and the indicator: each said against the aim.
        if (
            step.key.startswith("c_") and step.key not in ("c_floor", "c_all")
        ) or step.key == "d_fpd":
            ratio = step.rate / baseline.rate if baseline.rate else 0.0
            verdict = "[green]meets[/]" if ratio >= TARGET_RATIO else "[red]misses[/]"
            console.print(f"{step.label}: {ratio:.1%} of (a): {verdict} the >= 25% aim")
        if step.key == "c_floor":
            ratio = step.rate / baseline.rate if baseline.rate else 0.0
            console.print(
                f"{step.label}: {ratio:.1%} of (a): what SQLite takes to hold the rows (c) ends "
                f"with ({step.extra['rows']:,}), written once each and nothing else"
            )
    console.print(
        f"machine: {machine['cores']} cores ({machine['usable_cores']} usable), "
        f"{machine['cpu']}, {machine['memory_gb']} GB; Python {machine['python']}, "
        f"SQLite {machine['sqlite']}, {machine['system']}"
    )


# -- entry point -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.replay_bench",
        description="Time reading the event streams: plain, validated, projections, analytics.",
    )
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="events in the stream")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, metavar="PATH", help="write the figures here"
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="also profile (c) and (d); .prof files in DIR"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.events < DAYS + 1:
        parser.error(f"--events must be more than {DAYS} (the clock's days come first)")
    return args


def run(args: argparse.Namespace) -> int:
    machine = machine_info()
    busy = machine_busy()
    machine["busy_before_start"] = busy
    if busy is not None and busy > 0.25:
        console.print(
            f"[yellow]warning: the machine is already {busy:.0%} busy before the benchmark "
            "starts; other processes compete for the cores and lower every rate[/]"
        )
    root = Path(tempfile.mkdtemp(prefix="cobranca-replay-bench-"))
    (root / "profiled").mkdir()
    broker: EmbeddedBroker | None = None
    console.print(
        f"cobranca replay benchmark: {args.events:,} events, seed {args.seed}, "
        f"{machine['cores']} cores, Python {machine['python']}; temp dir {root}"
    )
    try:
        broker = make_broker("tansu", root)
        broker.start(timeout=180)
        bootstrap = broker.bootstrap

        started = time.perf_counter()
        stats = asyncio.run(publish(bootstrap, StreamBuilder(args.seed), args.events))
        build_s = time.perf_counter() - started
        console.print(
            f"stream built and published in {build_s:.1f}s ({args.events / build_s:,.0f}/s): "
            f"{stats.debtors:,} debtors, {stats.agreements:,} agreements, "
            f"{stats.bytes / 1e6:,.0f} MB"
        )
        mix = Table(title="The stream")
        mix.add_column("event")
        mix.add_column("count", justify="right")
        mix.add_column("%", justify="right")
        for event_type, n in stats.by_type.most_common():
            mix.add_row(event_type, f"{n:,}", f"{n / args.events:.1%}")
        console.print(mix)

        per_projection = {
            name: sum(stats.by_topic[t] for t in PROJECTION_TOPICS[name]) for name in REPLAYED
        }
        meter = Meter(getattr(broker, "pid", None))
        steps: list[Step] = []
        console.print("(a) plain read...")
        # The baseline is short and the one every ratio divides by: the best of a few reads.
        attempts = [
            meter.measure(lambda: time_plain(bootstrap, args.events, validate=False))
            for _ in range(BASELINE_ATTEMPTS)
        ]
        baseline = min(attempts, key=lambda step: step.seconds)
        baseline.label += f" (best of {BASELINE_ATTEMPTS})"
        baseline.extra["attempts_s"] = [step.seconds for step in attempts]
        steps.append(baseline)
        console.print("(b) read + validate...")
        steps.append(meter.measure(lambda: time_plain(bootstrap, args.events, validate=True)))
        projection_steps = []
        for name in REPLAYED:
            console.print(f"(c) cobranca replay {name}...")
            projection_steps.append(
                meter.measure(
                    functools.partial(time_projection, name, bootstrap, root, per_projection[name])
                )
            )
        steps.extend(projection_steps)
        steps.append(
            Step(
                "c_all",
                f"(c) all {len(projection_steps)}, one after another (stream events / sum)",
                args.events,
                sum(s.seconds for s in projection_steps),
                None,
                {"projections": list(REPLAYED)},
                cpu_s=sum(s.cpu_s or 0.0 for s in projection_steps),
                broker_cpu_s=sum(s.broker_cpu_s or 0.0 for s in projection_steps),
                gc_s=sum(s.gc_s or 0.0 for s in projection_steps),
            )
        )
        console.print(f"(c) cobranca replay {' '.join(REPLAYED)} (one pass)...")
        steps.append(
            meter.measure(
                lambda: time_together(REPLAYED, bootstrap, root, per_projection, args.events)
            )
        )
        console.print("(c) floor: the one pass's final rows written again, raw...")
        schema, rows = final_rows(root)
        steps.append(meter.measure(lambda: time_floor(root, schema, rows, args.events)))
        rows.clear()  # a gigabyte at the default size: not kept through (d)
        console.print("(d) cobranca analytics fpd...")
        fpd_step = meter.measure(lambda: time_fpd(bootstrap, args.events))
        steps.append(fpd_step)
        print_report(steps, baseline, machine)
        console.print(
            f"FPD-{FPD_K} as of {fpd_step.extra['as_of']}: "
            f"{fpd_step.extra['fpd_total']['defaulted']:,} of "
            f"{fpd_step.extra['fpd_total']['mature']:,} mature agreements; "
            f"{fpd_step.extra['fpd_rows']} rows by {', '.join(FPD_BY)}; indicator "
            f"{fpd_step.extra['indicator_s']:.2f}s after the replay"
        )

        profiles: list[ProfileSummary] = []
        if args.profile is not None:
            console.print(f"profiling (c) and (d) on the same {args.events:,} events...")
            profiles = profile_runs(bootstrap, root, per_projection, args.events, args.profile)
            print_profiles(profiles)

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "events": args.events,
                    "seed": args.seed,
                    "date": dt.date.today().isoformat(),
                    "broker": "tansu",
                    "machine": machine,
                    "stream": {
                        "build_and_publish_s": build_s,
                        "bytes": stats.bytes,
                        "debtors": stats.debtors,
                        "agreements": stats.agreements,
                        "by_type": dict(stats.by_type.most_common()),
                        "by_topic": dict(stats.by_topic.most_common()),
                    },
                    "target_ratio": TARGET_RATIO,
                    "steps": [
                        {
                            "key": s.key,
                            "label": s.label,
                            "events": s.events,
                            "seconds": s.seconds,
                            "events_per_s": s.rate,
                            "ratio_to_a": s.rate / baseline.rate if baseline.rate else None,
                            "last_event_s": s.last_event_s,
                            "cpu_s": s.cpu_s,
                            "broker_cpu_s": s.broker_cpu_s,
                            "machine_busy": s.machine_busy,
                            "gc_s": s.gc_s,
                            "gc_full_collections": s.gc_full,
                            **s.extra,
                        }
                        for s in steps
                    ],
                    "profiles": [
                        {
                            "name": p.name,
                            "own_time_s": p.total_s,
                            "own": p.own,
                            "inclusive": p.inclusive,
                        }
                        for p in profiles
                    ],
                },
                indent=2,
                default=str,
            )
            + "\n"
        )
        console.print(f"figures written to {args.json}")
        return 0
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130
    finally:
        if broker is not None:
            broker.stop()
        if args.keep:
            console.print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with sigterm_as_interrupt():
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
