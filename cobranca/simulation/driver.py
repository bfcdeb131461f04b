"""Driving the real platform through its API, day by day, with the simulated debtors, operators
and bank: placements, self-service negotiations on the portal and the chatbot, operators
working the call list, payments (or none), and the manual business clock moved a day at a
time. Everything goes through the gateway, as the people it stands for would."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential

from cobranca.client import GatewayClient, GatewayError
from cobranca.simulation import chat_script
from cobranca.simulation.idle import PlatformIdle
from cobranca.simulation.model import (
    BehaviourModel,
    OfferSeen,
    PayerProfile,
    call_result,
    choose_offer,
    looks_up,
    payer_profile,
    payment_dates,
    self_service_channel,
)
from cobranca.simulation.world import Debtor, World
from services.clock.domain.calendar import is_business_day

_NAMESPACE = uuid.UUID("6f1c9a52-8a0e-4c55-9d1e-2b7f0c3e5a11")


def _transient(exc: BaseException) -> bool:
    """What a person would just try again: no answer, or the platform busy (a broker lost)."""
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, GatewayError) and exc.status in (502, 503, 504)


# For the calls that are safe to repeat: reads, and writes with their own idempotency key
# (an agreement's Idempotency-Key, a payment's reference). A chat message or a call record
# is not repeated: it could be taken twice.
patient = retry(
    retry=retry_if_exception(_transient),
    stop=stop_after_delay(180),
    wait=wait_exponential(multiplier=0.5, max=5),
    reraise=True,
)


@dataclass
class Planned:
    """An agreement the simulator knows of, and how its debtor will pay it."""

    debtor: int
    creditor: str
    channel: str
    closed_on: dt.date
    profile: PayerProfile
    agreement_id: str | None = None  # a chatbot's agreement is found on the next day
    invoices: list[dict[str, Any]] = field(default_factory=list)
    pays_on: list[dt.date | None] = field(default_factory=list)
    paid: set[int] = field(default_factory=set)
    status: str = "active"
    check_on: dt.date | None = None  # a never-payer's agreement: learn whether it broke


@dataclass
class Tally:
    """What the simulated people did, counted as they did it (from several threads)."""

    counts: Counter[str] = field(default_factory=Counter)
    paid_cents: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, what: str, n: int = 1, cents: int = 0) -> None:
        with self.lock:
            self.counts[what] += n
            self.paid_cents += cents


@dataclass(frozen=True)
class Clients:
    """The people's doors into the gateway: a debtor (anonymous, then their portal token),
    the operators, the bank (an integration token) and the admin."""

    anonymous: GatewayClient
    operator: GatewayClient
    bank: GatewayClient
    admin: GatewayClient
    with_token: Callable[[str], GatewayClient]


class Simulation:
    def __init__(
        self,
        world: World,
        days: int,
        seed: int,
        tenant: str,
        clients: Clients,
        bootstrap: str,
        advance_day: Callable[[], dt.date],
        model: BehaviourModel,
        workers: int = 6,
        on_day: Callable[[int, dt.date, Tally], None] | None = None,
    ) -> None:
        self.world = world
        self.days = days
        self.seed = seed
        self.tenant = tenant
        self.clients = clients
        self.bootstrap = bootstrap
        self.advance_day = advance_day
        self.model = model
        self.workers = workers
        self.on_day = on_day
        self.tally = Tally()
        self.agreements: list[Planned] = []
        # (debtor, creditor) pairs in an agreement the simulator believes active or fulfilled.
        self.engaged: set[tuple[int, str]] = set()
        self.campaign_id: str | None = None

    # ---- the run ---------------------------------------------------------------------------

    def run(self, settle: Callable[[], float]) -> Tally:
        campaigns = patient(self.clients.operator.campaigns)()
        self.campaign_id = campaigns[0]["campaign_id"] if campaigns else None
        with ThreadPoolExecutor(self.workers, thread_name_prefix="simulated") as pool:
            for day in range(self.days):
                today = self.world.start + dt.timedelta(days=day)
                self._place(day)
                settle()
                self._self_service(pool, day, today)
                if any(p.agreement_id is None for p in self.agreements):
                    # The bot names no ids: its agreements are found in the portal's lookup,
                    # once the portal view has them.
                    settle()
                    self._find_chatbot_agreements(pool, today)
                if is_business_day(today):
                    self._operators(day, today)
                self._payments(pool, today)
                if self.on_day:
                    self.on_day(day, today, self.tally)
                if day < self.days - 1:
                    self.advance_day()
        settle()
        return self.tally

    def _place(self, day: int) -> None:
        for wave in range(self.world.waves):
            if self.world.wave_day(wave) != day:
                continue
            for creditor, text in self.world.carteiras(wave).items():
                accepted = self.clients.operator.upload_carteira(
                    text.encode(), f"simulacao-{wave + 1}-{creditor}.csv"
                )
                status = patient(self.clients.operator.wait_for_import)(accepted["import_id"])
                self.tally.add("debts placed", int(status["accepted"]))
                self.tally.add("rows rejected", int(status["rejected"]))

    # ---- debtors on their own ----------------------------------------------------------------

    def _placed(self, day: int) -> Iterable[Debtor]:
        return (d for d in self.world.debtors if self.world.wave_day(d.wave) <= day)

    def _self_service(self, pool: ThreadPoolExecutor, day: int, today: dt.date) -> None:
        coming: list[tuple[Debtor, str]] = []
        for debtor in self._placed(day):
            if all((debtor.index, c) in self.engaged for c in debtor.creditors):
                continue
            days_placed = day - self.world.wave_day(debtor.wave)
            overdue = (today - debtor.oldest_due()).days
            if looks_up(self.model, self.seed, debtor.index, day, days_placed, overdue):
                coming.append(
                    (debtor, self_service_channel(self.model, self.seed, debtor.index, day))
                )
        negotiate = {"portal": self._on_portal, "chatbot": self._on_chatbot}

        def come(debtor: Debtor, channel: str) -> Planned | None:
            try:
                return negotiate[channel](debtor, day, today)
            except (GatewayError, httpx.TransportError) as exc:
                if not _transient(exc):
                    raise
                self.tally.add(f"gave up, platform busy ({channel})")
                return None

        for planned in pool.map(lambda dc: come(*dc), coming):
            if planned is not None:
                self._keep(planned)

    def _keep(self, planned: Planned) -> None:
        self.agreements.append(planned)
        self.engaged.add((planned.debtor, planned.creditor))
        self.tally.add(f"agreements ({planned.channel})")

    @staticmethod
    def _oldest_overdue(debtor: Debtor, creditor: str, today: dt.date) -> int:
        return (today - debtor.oldest_due(creditor)).days

    def _on_portal(self, debtor: Debtor, day: int, today: dt.date) -> Planned | None:
        self.tally.add("portal lookups")
        found = patient(self.clients.anonymous.lookup)(self.tenant, debtor.document)
        token = found.get("portal_token")
        by_creditor: dict[str, list[dict[str, Any]]] = {}
        for debt in found["debts"]:
            by_creditor.setdefault(debt["creditor"], []).append(debt)
        if not token or not by_creditor:
            return None
        creditor = max(
            sorted(by_creditor), key=lambda c: sum(d["balance_cents"] for d in by_creditor[c])
        )
        debt_ids = sorted(d["debt_id"] for d in by_creditor[creditor])
        return self._negotiate(
            self.clients.with_token(token), debtor, creditor, debt_ids, day, today, "portal"
        )

    def _negotiate(
        self,
        client: GatewayClient,
        debtor: Debtor,
        creditor: str,
        debt_ids: list[str],
        day: int,
        today: dt.date,
        channel: str,
        accepted: bool = False,
    ) -> Planned | None:
        try:
            offered = patient(client.offers)(self.tenant, debt_ids)["offers"]
        except GatewayError as exc:
            self.tally.add(f"offers refused ({exc.status})")
            return None
        seen = [
            OfferSeen(o["installments"], o["total_cents"], o["discount_cents"]) for o in offered
        ]
        subject = (debtor.index, day, creditor)
        overdue = self._oldest_overdue(debtor, creditor, today)
        chosen = choose_offer(self.model, self.seed, subject, seen, overdue, accepted=accepted)
        if chosen is None:
            self.tally.add(f"offers declined ({channel})")
            return None
        key = str(uuid.uuid5(_NAMESPACE, f"{self.seed}|{self.tenant}|{subject}"))
        installments = seen[chosen].installments
        _, agreement = patient(client.close_agreement)(self.tenant, debt_ids, installments, key)
        return self._plan(debtor.index, creditor, channel, today, seen[chosen], agreement)

    def _plan(
        self,
        debtor: int,
        creditor: str,
        channel: str,
        today: dt.date,
        offer: OfferSeen,
        agreement: dict[str, Any] | None,
    ) -> Planned:
        key = (debtor, today.isoformat(), creditor)
        planned = Planned(
            debtor=debtor,
            creditor=creditor,
            channel=channel,
            closed_on=today,
            profile=payer_profile(self.model, self.seed, key, offer.discount_share),
        )
        if agreement is not None:
            self._attach(planned, agreement)
        return planned

    def _attach(self, planned: Planned, agreement: dict[str, Any]) -> None:
        planned.agreement_id = agreement["agreement_id"]
        planned.invoices = sorted(agreement["invoices"], key=lambda i: i["number"])
        dues = [dt.date.fromisoformat(str(i["due_date"])) for i in planned.invoices]
        key = (planned.debtor, planned.closed_on.isoformat(), planned.creditor)
        planned.pays_on = payment_dates(
            self.model, self.seed, key, planned.profile, dues, planned.closed_on
        )
        if planned.profile in ("never", "drops_out") and dues:
            planned.check_on = dues[-1 if planned.profile == "drops_out" else 0] + dt.timedelta(
                days=40
            )

    def _on_chatbot(self, debtor: Debtor, day: int, today: dt.date) -> Planned | None:
        self.tally.add("chatbot conversations")
        chat = self.clients.anonymous

        def say(text: str, conversation: str | None) -> tuple[str, str]:
            reply = chat.chat(self.tenant, text, conversation)
            return reply["conversation_id"], "\n".join(r["text"] for r in reply["replies"])

        conversation, _ = say("Oi", None)
        _, text = say(debtor.document, conversation)
        number = chat_script.option_number(text, chat_script.NEGOTIATE_LABEL)
        if number is None:
            return None
        _, text = say(str(number), conversation)
        creditor = self._creditor_in_chat(debtor, text)
        if creditor is None:
            return None
        if (choice := chat_script.creditor_number(text, creditor)) is not None:
            _, text = say(str(choice), conversation)
        offers = chat_script.offers_in(text)
        if not offers:
            self.tally.add("chatbot without offers")
            return None
        numbers = sorted(offers)
        seen = [offers[n] for n in numbers]
        subject = (debtor.index, day, creditor)
        overdue = self._oldest_overdue(debtor, creditor, today)
        chosen = choose_offer(self.model, self.seed, subject, seen, overdue)
        if chosen is None:
            say("0", conversation)  # back to the menu, and gone
            self.tally.add("offers declined (chatbot)")
            return None
        _, text = say(str(numbers[chosen]), conversation)
        if not text.startswith("Confirma o acordo"):
            return None
        _, text = say("1", conversation)
        if "Acordo fechado!" not in text:
            self.tally.add("chatbot closes failed")
            return None
        return self._plan(debtor.index, creditor, "chatbot", today, seen[chosen], None)

    def _creditor_in_chat(self, debtor: Debtor, text: str) -> str | None:
        """The creditor the debtor negotiates: the one offered, or the one they owe most to
        (of those the bot lists)."""
        listed = chat_script.creditors_in(text)
        if listed:
            return max(sorted(listed), key=lambda c: listed[c])
        for creditor in debtor.creditors:
            if f"Débitos com {creditor}:" in text:
                return creditor
        return None

    def _find_chatbot_agreements(self, pool: ThreadPoolExecutor, today: dt.date) -> None:
        waiting = [p for p in self.agreements if p.agreement_id is None]

        def find(planned: Planned) -> None:
            document = self.world.debtors[planned.debtor].document
            found = patient(self.clients.anonymous.lookup)(self.tenant, document)
            known = {p.agreement_id for p in self.agreements if p.agreement_id}
            for agreement in found["agreements"]:
                if (
                    agreement["channel"] == "chatbot"
                    and agreement["creditor"] == planned.creditor
                    and agreement["agreement_id"] not in known
                ):
                    self._attach(planned, agreement)
                    return

        list(pool.map(find, waiting))

    # ---- operators ---------------------------------------------------------------------------

    def _operators(self, day: int, today: dt.date) -> None:
        calls = self.model.operators * self.model.calls_per_operator
        if not self.campaign_id or calls == 0:
            return
        page = patient(self.clients.operator.call_list)(self.campaign_id, 1, min(500, calls))
        entries = page["entries"]
        by_document = {d.document: d for d in self.world.debtors}
        for entry in entries:
            debtor = by_document.get(entry["document"])
            if debtor is None:
                continue
            result: str = call_result(self.model, self.seed, entry["document"], day)
            if result == "agreement":
                planned = self._operator_agreement(debtor, entry["creditors"], day, today)
                if planned is None:
                    result = "refused"
                else:
                    self._keep(planned)
            body: dict[str, Any] = {"document": entry["document"], "result": result}
            if result == "callback":
                body["reschedule_at"] = f"{today + dt.timedelta(days=3)}T10:00:00-03:00"
            try:
                self.clients.operator.record_call(self.campaign_id, body)
            except (GatewayError, httpx.TransportError):
                self.tally.add("calls not recorded")
                continue
            self.tally.add(f"calls: {result}")

    def _operator_agreement(
        self, debtor: Debtor, creditors: list[str], day: int, today: dt.date
    ) -> Planned | None:
        # The operator's screen shows what the portal shows of the debtor.
        found = patient(self.clients.anonymous.lookup)(self.tenant, debtor.document)
        for creditor in sorted(creditors):
            debt_ids = sorted(d["debt_id"] for d in found["debts"] if d["creditor"] == creditor)
            if debt_ids and (debtor.index, creditor) not in self.engaged:
                return self._negotiate(
                    self.clients.operator,
                    debtor,
                    creditor,
                    debt_ids,
                    day,
                    today,
                    "operator",
                    accepted=True,
                )
        return None

    # ---- the bank ----------------------------------------------------------------------------

    def _payments(self, pool: ThreadPoolExecutor, today: dt.date) -> None:
        due = [
            p
            for p in self.agreements
            if p.agreement_id
            and p.status == "active"
            and (today in p.pays_on or p.check_on == today)
        ]
        list(pool.map(lambda p: self._pay(p, today), due))

    def _pay(self, planned: Planned, today: dt.date) -> None:
        assert planned.agreement_id is not None
        agreement = patient(self.clients.operator.agreement)(self.tenant, planned.agreement_id)
        planned.status = agreement["status"]
        if planned.status != "active":
            if planned.status == "broken":
                # The debts are open again: the debtor may come back.
                self.engaged.discard((planned.debtor, planned.creditor))
                self.tally.add("agreements found broken")
            return
        balances = {i["invoice_id"]: i["balance_cents"] for i in agreement["invoices"]}
        for number, (invoice, pays_on) in enumerate(
            zip(planned.invoices, planned.pays_on, strict=True)
        ):
            if pays_on != today or number in planned.paid:
                continue
            amount = balances.get(invoice["invoice_id"], 0)
            planned.paid.add(number)
            if amount <= 0:
                continue
            patient(self.clients.bank.report_payment)(
                {
                    "invoice_id": invoice["invoice_id"],
                    "amount_cents": amount,
                    "paid_on": today.isoformat(),
                    "reference": f"sim-{self.seed}-{invoice['invoice_id'][:18]}",
                }
            )
            self.tally.add("payments", cents=amount)


def settle_with(bootstrap: str, portal: BlockingPortal) -> tuple[PlatformIdle, Callable[[], float]]:
    """An idleness check on one connection, run on the simulation's event loop (`portal`)."""
    idle = portal.call(PlatformIdle.connect, bootstrap)
    return idle, lambda: portal.call(idle.wait)
