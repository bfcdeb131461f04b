"""Reading the topics the indicators need from offset zero to their end, into facts.

The consumer is assigned its partitions by hand and joins no consumer group (`group_id=None`,
nothing committed): it cannot disturb the services' groups nor leave offsets behind, and two
analysts replaying at once do not share the work.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from analytics.facts import FACT_EVENT_TYPES, Facts, FactsCollector
from contracts.clock import CLOCK_TOPIC
from contracts.negotiation import AGREEMENTS_TOPIC, INVOICES_TOPIC, PAYMENTS_TOPIC
from contracts.portfolio import DEBTS_TOPIC, IMPORTS_TOPIC
from contracts.registry import EVENT_MODELS, UnknownEventType, parse_event
from service_runtime.kafka import partitions_of, read_to_end, server_list

TOPICS: tuple[str, ...] = (
    DEBTS_TOPIC,
    AGREEMENTS_TOPIC,
    INVOICES_TOPIC,
    PAYMENTS_TOPIC,
    CLOCK_TOPIC,
    # The carteiras' file names (CarteiraImportStarted): the `carteira` cut as people read it.
    IMPORTS_TOPIC,
)

# The event type at the head of a body as the relays write it (the envelope's first fields).
_HEAD_TYPE = re.compile(rb'^\{"event_id":"[^"]*","type":"(\w+)"')
KNOWN_EVENT_TYPES = frozenset(event_type for event_type, _ in EVENT_MODELS)


def brings_no_fact(value: object) -> bool:
    """True when a body is an event this build knows of a type no fact comes from (an
    InvoiceOverdue, a DebtUpdated...): the replay need not parse it. Anything else, an
    unknown type or a body in another shape, is parsed (and counted when it fails)."""
    if not isinstance(value, bytes):
        return False
    head = _HEAD_TYPE.match(value)
    if head is None:
        return False
    event_type = head[1].decode()
    return event_type in KNOWN_EVENT_TYPES and event_type not in FACT_EVENT_TYPES


# (records read so far, records known at the start or since); for a progress bar.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, repr=False)
class Replayed:
    facts: Facts
    read: int  # records read
    new_facts: int  # records that brought a fact (the rest: other events, repeats)
    skipped: int  # records that are no event this build knows (a newer schema, garbage)

    def __repr__(self) -> str:
        # Counts, not every fact: `asyncio.run` (Python 3.11) formats its finished task, result
        # included, when it checks its SIGINT handler on the way out, and the dataclass repr of
        # a million facts takes seconds.
        f = self.facts
        return (
            f"Replayed(read={self.read}, new_facts={self.new_facts}, skipped={self.skipped}, "
            f"placements={len(f.placements)}, agreements={len(f.agreements)}, "
            f"installments_paid={len(f.installments_paid)}, breaks={len(f.breaks)}, "
            f"receipts={len(f.receipts)}, settlements={len(f.settlements)}, days={len(f.days)})"
        )

    @property
    def as_of(self) -> dt.date | None:
        """The clock's current business date (its latest DayStarted)."""
        return self.facts.latest_day


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while facts pile up, as it was afterwards. Each of
    its full passes walks every live object, and with hundreds of thousands of facts alive
    (which make no reference cycles: reference counting frees whatever the replay drops)
    those passes took a quarter of a replay's time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def replay_facts(
    bootstrap: str,
    *,
    tenant: str | None = None,
    progress: Progress | None = None,
    batch_size: int = 5000,
    idle_ms: int = 1500,
    topics: tuple[str, ...] = TOPICS,
) -> Replayed:
    """Every fact in the topics, read from offset zero until they have nothing more to give:
    the read stops as it reads the last record they hold (`read_to_end`)."""
    collector = FactsCollector(tenant)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=server_list(bootstrap),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="cobranca-analytics",
    )
    read = new = skipped = 0
    with cyclic_gc_paused():
        await consumer.start()
        try:
            known = await partitions_of(consumer, topics)
            tps = [TopicPartition(topic, p) for topic in topics for p in sorted(known[topic])]
            if not tps:
                return Replayed(collector.facts(), 0, 0, 0)
            ends = await consumer.end_offsets(tps)
            total = sum(ends.values())
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            if progress:
                progress(0, total)
            while True:
                batch = await consumer.getmany(timeout_ms=idle_ms, max_records=batch_size)
                records = [r for rs in batch.values() for r in rs]
                for record in records:
                    if brings_no_fact(record.value):
                        continue
                    try:
                        event = parse_event(record.value)
                    except (UnknownEventType, ValueError):
                        skipped += 1
                        continue
                    new += collector.add(event)
                read += len(records)
                if progress and records:
                    progress(read, max(total, read))
                if await read_to_end(consumer, tps, ends, fetched_nothing=not records):
                    break
        finally:
            await consumer.stop()
        return Replayed(collector.facts(), read=read, new_facts=new, skipped=skipped)
