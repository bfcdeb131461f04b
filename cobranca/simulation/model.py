"""The simulated debtors' and operators' behaviour: parameters and pure decisions, no I/O.

Every decision draws from its own random stream, seeded by the run's seed and what the decision
is about (the debtor, the day, the agreement), never from a shared generator: the same seed
gives the same decisions whatever order the platform's answers come in. docs/simulator.md
describes the model and its parameters in words.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SelfServiceChannel = Literal["portal", "chatbot"]
PayerProfile = Literal["punctual", "late", "drops_out", "never"]
CallResult = Literal["no_answer", "wrong_number", "refused", "callback", "promise", "agreement"]
PAYER_PROFILES: tuple[PayerProfile, ...] = ("punctual", "late", "drops_out", "never")
CALL_RESULTS: tuple[CallResult, ...] = (
    "no_answer",
    "wrong_number",
    "refused",
    "callback",
    "promise",
    "agreement",
)


class BehaviourModel(BaseModel):
    """The parameters of the world; the defaults give plausible Brazilian collection figures
    (a few percent of a carteira negotiating each month, FPD-5 around 25-35%)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    placement_waves: int = Field(
        default=3,
        ge=1,
        le=12,
        description="Carteiras placed in this many waves (each creditor "
        "one file per wave); a wave only starts within the simulated days",
    )
    wave_interval_days: int = Field(default=30, ge=1, description="Days between two waves")
    daily_lookup_rate: float = Field(
        default=0.012,
        ge=0,
        le=1,
        description="Chance a debtor with open debts looks them up on a given day, just placed",
    )
    lookup_half_life_days: float = Field(
        default=45.0, gt=0, description="The lookup chance halves every this many days placed"
    )
    aging_factors: tuple[float, float, float] = Field(
        default=(2.0, 1.0, 0.4),
        description="Lookup chance times this for debts overdue up to 90, 91-360, over 360 days",
    )
    chatbot_share: float = Field(
        default=0.35, ge=0, le=1, description="Share of self-service contacts on the chatbot"
    )
    accept_intercept: float = Field(default=-0.2, description="Log-odds of accepting, no discount")
    accept_per_discount: float = Field(
        default=3.0, description="Log-odds added per unit of discount share (0.5 = half off)"
    )
    accept_per_year_overdue: float = Field(
        default=-0.5, description="Log-odds added per year the oldest debt is overdue"
    )
    accept_per_tenfold_amount: float = Field(
        default=-0.4, description="Log-odds added per tenfold of the amount over R$ 1.000,00"
    )
    random_offer_share: float = Field(
        default=0.2, ge=0, le=1, description="Share of debtors who pick an offer at random"
    )
    payer_profiles: tuple[float, float, float, float] = Field(
        default=(0.55, 0.2, 0.1, 0.15),
        description="Shares of punctual, late, drops-out-after-some and never payers",
    )
    late_days_max: int = Field(default=12, ge=1, description="A late payer pays 1..this days late")
    operators: int = Field(default=3, ge=0, description="Operators working the call list")
    calls_per_operator: int = Field(default=25, ge=0, description="Calls each per business day")
    call_results: tuple[float, float, float, float, float, float] = Field(
        default=(0.45, 0.05, 0.15, 0.1, 0.1, 0.15),
        description="Shares of no answer, wrong number, refused, call back, promise, agreement",
    )

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> BehaviourModel:
        for name in ("payer_profiles", "call_results"):
            shares: Sequence[float] = getattr(self, name)
            if any(s < 0 for s in shares) or not math.isclose(sum(shares), 1.0, abs_tol=1e-9):
                raise ValueError(f"{name}: shares must be >= 0 and add up to 1")
        return self


def stream(seed: int, *about: object) -> random.Random:
    """A random stream for one decision: the same seed and subject, the same draws."""
    digest = hashlib.sha256("|".join(map(str, (seed, *about))).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def wave_of(debtor: int, waves: int) -> int:
    """Debtors are dealt to the waves in turn."""
    return debtor % waves


def waves_within(model: BehaviourModel, days: int) -> int:
    """How many waves start within `days` simulated days (the first on day 0)."""
    return min(model.placement_waves, (days - 1) // model.wave_interval_days + 1) if days else 0


def aging_factor(model: BehaviourModel, days_overdue: int) -> float:
    fresh, middle, old = model.aging_factors
    if days_overdue <= 90:
        return fresh
    return middle if days_overdue <= 360 else old


def lookup_chance(model: BehaviourModel, days_placed: int, oldest_days_overdue: int) -> float:
    """The chance a debtor with open debts comes to negotiate today."""
    decay: float = 0.5 ** (max(0, days_placed) / model.lookup_half_life_days)
    return min(1.0, model.daily_lookup_rate * decay * aging_factor(model, oldest_days_overdue))


def looks_up(
    model: BehaviourModel, seed: int, debtor: int, day: int, days_placed: int, days_overdue: int
) -> bool:
    return stream(seed, "lookup", debtor, day).random() < lookup_chance(
        model, days_placed, days_overdue
    )


def self_service_channel(model: BehaviourModel, seed: int, debtor: int, day: int) -> str:
    chatbot = stream(seed, "channel", debtor, day).random() < model.chatbot_share
    return "chatbot" if chatbot else "portal"


@dataclass(frozen=True)
class OfferSeen:
    """What a debtor reads of one offer: installments, what it costs, what it spares."""

    installments: int
    total_cents: int
    discount_cents: int

    @property
    def discount_share(self) -> float:
        full = self.total_cents + self.discount_cents
        return self.discount_cents / full if full else 0.0


def accept_chance(model: BehaviourModel, best: OfferSeen, oldest_days_overdue: int) -> float:
    """Logistic in the best discount, the age of the debt and the amount."""
    amount_reais = max(1.0, (best.total_cents + best.discount_cents) / 100)
    log_odds = (
        model.accept_intercept
        + model.accept_per_discount * best.discount_share
        + model.accept_per_year_overdue * oldest_days_overdue / 365
        + model.accept_per_tenfold_amount * math.log10(amount_reais / 1000)
    )
    return 1 / (1 + math.exp(-log_odds))


def preferred_installments(amount_cents: int) -> int:
    """Small debts are paid at once, large ones in as many installments as allowed."""
    if amount_cents < 50_000:
        return 1
    if amount_cents < 300_000:
        return 3
    return 12


def choose_offer(
    model: BehaviourModel,
    seed: int,
    subject: object,
    offers: Sequence[OfferSeen],
    oldest_days_overdue: int,
    *,
    accepted: bool = False,
) -> int | None:
    """The index of the offer the debtor takes, or None when they leave without an agreement
    (`accepted`: they already said yes, to an operator, and only choose)."""
    if not offers:
        return None
    rng = stream(seed, "offer", subject)
    best = max(offers, key=lambda o: (o.discount_share, -o.installments))
    if rng.random() >= accept_chance(model, best, oldest_days_overdue) and not accepted:
        return None
    if rng.random() < model.random_offer_share:
        return rng.randrange(len(offers))
    wanted = preferred_installments(best.total_cents + best.discount_cents)
    return min(range(len(offers)), key=lambda i: (abs(offers[i].installments - wanted), i))


def payer_profile(
    model: BehaviourModel, seed: int, agreement_key: object, discount_share: float
) -> PayerProfile:
    """How a debtor pays an agreement: a bigger discount makes a punctual payer likelier."""
    punctual, late, drops, never = model.payer_profiles
    punctual *= 1 + discount_share
    total = punctual + late + drops + never
    draw = stream(seed, "payer", agreement_key).random() * total
    for profile, share in zip(PAYER_PROFILES, (punctual, late, drops, never), strict=True):
        if draw < share:
            return profile
        draw -= share
    return "never"


def payment_dates(
    model: BehaviourModel,
    seed: int,
    agreement_key: object,
    profile: PayerProfile,
    due_dates: Sequence[dt.date],
    closed_on: dt.date,
) -> list[dt.date | None]:
    """When each installment is paid (None: never), for the payer's profile; never before the
    agreement was closed."""
    rng = stream(seed, "payments", agreement_key)
    if profile == "never":
        return [None] * len(due_dates)
    if profile == "punctual":
        return [max(closed_on, due - dt.timedelta(days=rng.randint(0, 2))) for due in due_dates]
    if profile == "late":
        return [due + dt.timedelta(days=rng.randint(1, model.late_days_max)) for due in due_dates]
    # Drops out: pays the first k on time (k >= 1 when there are several), then nothing.
    paid = rng.randint(1, max(1, len(due_dates) - 1)) if len(due_dates) > 1 else 0
    return [due if n < paid else None for n, due in enumerate(due_dates)]


def call_result(model: BehaviourModel, seed: int, document: str, day: int) -> CallResult:
    draw = stream(seed, "call", document, day).random()
    for result, share in zip(CALL_RESULTS, model.call_results, strict=True):
        if draw < share:
            return result
        draw -= share
    return "no_answer"
