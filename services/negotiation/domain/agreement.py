"""An agreement (acordo): debts of one debtor and one creditor renegotiated into invoices.

The aggregate keeps the terms it was closed with (a later change of the condition changes
nothing here), applies payments to its invoices, notices overdue invoices day by day, and
ends fulfilled (all paid) or broken (an invoice too late, or the creditor withdrew one of its
debts or lowered its amount below what the agreement charges).

The debtor's name is personal data: the aggregate keeps it sealed with the debtor's key
(`personal`, a `SealedPersonalData` as a dict, holding `{"debtor_name": ...}`), as the
application sealed it; whoever shows it opens it with the key vault, and once the key is
erased nobody can. Agreements closed before that kept the name in clear (`debtor_name` in
their Closed event): read as `legacy_debtor_name` (class version 2 upcasts them)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Mapping
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE
from contracts.money import format_brl
from contracts.negotiation import CREDITOR_RULES


def agreement_id_for(tenant: str, idempotency_key: str) -> uuid.UUID:
    """The same idempotency key always names the same agreement."""
    return uuid.uuid5(COBRANCA_NAMESPACE, f"agreement|{tenant}|{idempotency_key}")


def invoice_id_for(agreement_id: uuid.UUID, number: int) -> str:
    return str(uuid.uuid5(COBRANCA_NAMESPACE, f"invoice|{agreement_id}|{number}"))


def _upcast_v1_v2(state: dict[str, Any]) -> None:
    """Closed events and snapshots of version 1 had the debtor's name in clear."""
    state["personal"] = None
    state["legacy_debtor_name"] = state.pop("debtor_name", None)


class Agreement(Aggregate):
    # Snapshots of version 1 had `debtor_name` (see the Closed event's class version below).
    class_version = 2
    upcast_v1_v2 = staticmethod(_upcast_v1_v2)

    @staticmethod
    def create_id(tenant: str, idempotency_key: str, **_: Any) -> uuid.UUID:
        return agreement_id_for(tenant, idempotency_key)

    @event("Closed")
    def __init__(
        self,
        *,
        tenant: str,
        idempotency_key: str,
        request_fingerprint: str,
        document: str,
        personal: dict[str, str] | None,
        legacy_debtor_name: str | None,
        creditor: str,
        channel: str,
        operator: str | None,
        condition_id: str,
        condition_version: int,
        terms_json: str,
        closed_on: dt.date,
        debts: list[dict[str, Any]],
        totals: dict[str, int],
        invoices: list[dict[str, Any]],
        break_first_days: int,
        break_later_days: int,
    ) -> None:
        self.tenant = tenant
        self.idempotency_key = idempotency_key
        self.request_fingerprint = request_fingerprint
        self.document = document
        # The debtor's name sealed with the debtor's key (None only for legacy agreements).
        self.personal = personal
        self.legacy_debtor_name = legacy_debtor_name
        self.creditor = creditor
        self.channel = channel
        self.operator = operator
        self.condition_id = condition_id
        self.condition_version = condition_version
        self.terms_json = terms_json
        self.closed_on = closed_on
        self.debts = debts
        self.totals = totals
        self.invoices = [
            {**invoice, "paid_cents": 0, "paid_on": None, "payment_ids": []} for invoice in invoices
        ]
        self.break_first_days = break_first_days
        self.break_later_days = break_later_days
        self.status = "active"
        self.credit_cents = 0
        self.overdue_noted: dict[str, str] = {}
        self.ended_on: dt.date | None = None
        # Deducted from each debt since the break (payments to its cancelled invoices);
        # snapshots taken before this was kept have none: read with getattr.
        self.deducted: dict[str, int] = {}

    # ---- reading -------------------------------------------------------------------------

    @property
    def debt_ids(self) -> list[str]:
        return [d["debt_id"] for d in self.debts]

    @property
    def paid_cents(self) -> int:
        return sum(min(i["paid_cents"], i["amount_cents"]) for i in self.invoices)

    def invoice(self, invoice_id: str) -> dict[str, Any] | None:
        return next((i for i in self.invoices if i["invoice_id"] == invoice_id), None)

    @staticmethod
    def balance_of(invoice: dict[str, Any]) -> int:
        return max(0, int(invoice["amount_cents"]) - int(invoice["paid_cents"]))

    @property
    def end_rule(self) -> str | None:
        """The rule its `Broken` event ended it by (None while not broken, or for an
        aggregate restored from a snapshot taken before this was kept: the application then
        reads it from the stored events)."""
        return getattr(self, "broken_rule", None) if self.status == "broken" else None

    # ---- payments ------------------------------------------------------------------------

    def owed_after_break(self, owed_now: Mapping[str, int] | None = None) -> dict[str, int]:
        """What each debt still owes since the break: the balance `Broken` left it (its
        principal less its share of what was paid until then; for a debt the creditor lowered,
        its new amount less that share) less the payments to the cancelled invoices deducted
        from it since (`PaymentShared`), and never more than `owed_now` says it owes (the
        debts' view: the creditor's newest amount less what was paid on it, which a lowering
        after the break makes less)."""
        deducted: dict[str, int] = getattr(self, "deducted", {})
        # Aggregates restored from a snapshot taken before the break's balances were kept
        # share what was paid again by principal (the same but for a lowered debt).
        left: list[dict[str, Any]] = getattr(self, "break_debts", None) or allocate_paid(
            self.debts, self.paid_cents
        )
        owed = {
            d["debt_id"]: max(0, int(d["balance_cents"]) - deducted.get(d["debt_id"], 0))
            for d in left
        }
        if owed_now is not None:
            for debt_id, cents in owed_now.items():
                if debt_id in owed:
                    owed[debt_id] = min(owed[debt_id], max(0, cents))
        return owed

    def apply_payment(
        self,
        *,
        payment_id: str,
        invoice_id: str,
        amount_cents: int,
        paid_on: dt.date,
        held: Collection[str] = (),
        owed_now: Mapping[str, int] | None = None,
        end_rule: str | None = None,
    ) -> dict[str, Any]:
        """Credit a payment to an invoice; returns the outcome (what was applied, the
        balance left, the credit). The caller has made sure the payment is new.

        A payment to an unpaid invoice of a broken agreement (cancelled with it, reported
        after the break whatever its date) is deducted from the agreement's debts, back in
        collection (`share_payment`), each up to what it still owes (`owed_after_break`, at
        most `owed_now`: the creditor may have lowered it): `held` names the debts that are
        not (settled, withdrawn or in another agreement), whose share stays the debtor's
        credit, as does what a share pays beyond what its debt owes. `end_rule` is the rule
        it ended by when the aggregate does not know it (an older snapshot): the reason says
        whether the creditor ended it or the debtor broke it."""
        invoice = self.invoice(invoice_id)
        if invoice is None:
            raise KeyError(invoice_id)
        balance = self.balance_of(invoice)
        outcome: dict[str, Any]
        shared: list[dict[str, Any]] = []
        if self.status == "broken" and balance > 0:
            shared = share_payment(self.debts, self.owed_after_break(owed_now), held, amount_cents)
            deducted = sum(d["deducted_cents"] for d in shared)
            credit = amount_cents - deducted
            outcome = {
                "outcome": "excess",
                "applied_cents": 0,
                "balance_cents": balance,
                "credit_cents": credit,
                "reason": broken_payment_reason(deducted, credit, self.end_rule or end_rule),
            }
        elif self.status != "active" and balance > 0:
            outcome = {
                "outcome": "excess",
                "applied_cents": 0,
                "balance_cents": balance,
                "credit_cents": amount_cents,
                "reason": (
                    "acordo quebrado: o valor fica como crédito do devedor"
                    if self.status == "broken"
                    else "acordo já quitado: o valor fica como crédito do devedor"
                ),
            }
        elif balance == 0:
            outcome = {
                "outcome": "already_paid",
                "applied_cents": 0,
                "balance_cents": 0,
                "credit_cents": amount_cents,
                "reason": "parcela já paga: o valor fica como crédito do devedor",
            }
        else:
            applied = min(balance, amount_cents)
            credit = amount_cents - applied
            left = balance - applied
            outcome = {
                "outcome": "partial" if left > 0 else ("excess" if credit > 0 else "paid"),
                "applied_cents": applied,
                "balance_cents": left,
                "credit_cents": credit,
                "reason": (
                    f"pagamento parcial: faltam {format_brl(left)} nesta parcela"
                    if left > 0
                    else ("pago a mais: o excedente fica como crédito" if credit > 0 else None)
                ),
            }
        self._payment_applied(
            payment_id=payment_id,
            invoice_id=invoice_id,
            amount_cents=amount_cents,
            paid_on=paid_on,
            applied_cents=outcome["applied_cents"],
            credit_cents=outcome["credit_cents"],
        )
        if any(d["deducted_cents"] > 0 for d in shared):
            self._payment_shared(
                **self._parties(),
                payment_id=payment_id,
                invoice_id=invoice_id,
                number=invoice["number"],
                paid_on=paid_on,
                amount_cents=amount_cents,
                debts=shared,
            )
        if outcome["applied_cents"] > 0 and outcome["balance_cents"] == 0:
            self._installment_paid(
                **self._parties(),
                invoice_id=invoice_id,
                number=invoice["number"],
                due_date=invoice["due_date"],
                amount_cents=invoice["amount_cents"],
                paid_cents=invoice["paid_cents"],
                paid_on=paid_on,
                days_late=max(0, (paid_on - invoice["due_date"]).days),
                payment_ids=list(invoice["payment_ids"]),
                **self._place(invoice),
            )
            if all(self.balance_of(i) == 0 for i in self.invoices):
                self._fulfilled(
                    **self._parties(),
                    on=paid_on,
                    debt_ids=self.debt_ids,
                    paid_cents=self.paid_cents,
                )
        return outcome

    def _place(self, invoice: dict[str, Any]) -> dict[str, Any]:
        # Where the invoice sits in the plan: its events name it without the closing.
        return {
            "installment_kind": invoice["kind"],
            "installments": len(self.invoices),
            "with_down_payment": any(i["kind"] == "down_payment" for i in self.invoices),
        }

    def _parties(self) -> dict[str, Any]:
        # Every event carries who it is about, so it stands on its own when published.
        return {"tenant": self.tenant, "document": self.document, "creditor": self.creditor}

    @event("PaymentApplied")
    def _payment_applied(
        self,
        *,
        payment_id: str,
        invoice_id: str,
        amount_cents: int,
        paid_on: dt.date,
        applied_cents: int,
        credit_cents: int,
    ) -> None:
        invoice = self.invoice(invoice_id)
        assert invoice is not None
        if self.status == "broken" and applied_cents == 0 and self.balance_of(invoice) > 0:
            # Paid to it after it was cancelled with the agreement's end: shown to the debtor
            # as received (QA pass 9, D4), though nothing of it is applied to it.
            invoice["received_after_end_cents"] = (
                invoice.get("received_after_end_cents", 0) + amount_cents
            )
        invoice["paid_cents"] += applied_cents
        invoice["payment_ids"] = [*invoice["payment_ids"], payment_id]
        self.credit_cents += credit_cents

    @event("PaymentShared")
    def _payment_shared(
        self,
        *,
        tenant: str,
        document: str,
        creditor: str,
        payment_id: str,
        invoice_id: str,
        number: int,
        paid_on: dt.date,
        amount_cents: int,
        debts: list[dict[str, Any]],
    ) -> None:
        # Its credit is in the payment's PaymentApplied; here, what each debt owes less.
        deducted = dict(getattr(self, "deducted", {}))
        for debt in debts:
            deducted[debt["debt_id"]] = deducted.get(debt["debt_id"], 0) + debt["deducted_cents"]
        self.deducted = deducted

    @event("InstallmentPaid")
    def _installment_paid(
        self,
        *,
        tenant: str,
        document: str,
        creditor: str,
        invoice_id: str,
        number: int,
        due_date: dt.date,
        amount_cents: int,
        paid_cents: int,
        paid_on: dt.date,
        days_late: int,
        payment_ids: list[str],
        installment_kind: str | None = None,
        installments: int | None = None,
        with_down_payment: bool | None = None,
    ) -> None:
        invoice = self.invoice(invoice_id)
        assert invoice is not None
        invoice["paid_on"] = paid_on

    @event("Fulfilled")
    def _fulfilled(
        self,
        *,
        tenant: str,
        document: str,
        creditor: str,
        on: dt.date,
        debt_ids: list[str],
        paid_cents: int,
    ) -> None:
        self.status = "fulfilled"
        self.ended_on = on

    # ---- the daily run -------------------------------------------------------------------

    def run_day(self, today: dt.date) -> None:
        """Note each invoice past due and unpaid, once per date; break the agreement when the
        first invoice is `break_first_days` late or a later one `break_later_days` late."""
        if self.status != "active":
            return
        iso = today.isoformat()
        breaking: tuple[dict[str, Any], int] | None = None
        for invoice in self.invoices:
            due = invoice["due_date"]
            if self.balance_of(invoice) == 0 or due >= today:
                continue
            late = (today - due).days
            if self.overdue_noted.get(invoice["invoice_id"], "") < iso:
                self._invoice_overdue(
                    **self._parties(),
                    invoice_id=invoice["invoice_id"],
                    number=invoice["number"],
                    due_date=due,
                    amount_cents=invoice["amount_cents"],
                    balance_cents=self.balance_of(invoice),
                    as_of=today,
                    days=late,
                    **self._place(invoice),
                )
            limit = self.break_first_days if invoice["number"] == 1 else self.break_later_days
            if late >= limit and breaking is None:
                breaking = (invoice, late)
        if breaking is not None:
            invoice, late = breaking
            self._broken(
                **self._parties(),
                on=today,
                paid_cents=self.paid_cents,
                rule="first_installment" if invoice["number"] == 1 else "later_installment",
                number=invoice["number"],
                days_overdue=late,
                debts=allocate_paid(self.debts, self.paid_cents),
                withdrawn_debt_ids=None,
                credit_cents=0,
                lowered_debts=None,
            )

    @event("InvoiceOverdue")
    def _invoice_overdue(
        self,
        *,
        tenant: str,
        document: str,
        creditor: str,
        invoice_id: str,
        number: int,
        due_date: dt.date,
        amount_cents: int,
        balance_cents: int,
        as_of: dt.date,
        days: int,
        installment_kind: str | None = None,
        installments: int | None = None,
        with_down_payment: bool | None = None,
    ) -> None:
        self.overdue_noted[invoice_id] = as_of.isoformat()

    # ---- the creditor withdraws a debt --------------------------------------------------

    def end_by_withdrawal(self, withdrawn: Collection[str], on: dt.date) -> bool:
        """The creditor withdrew (cancelled or took back) debts of this agreement: the
        creditor's word wins, the agreement ends as a break does (`Broken`, rule
        `debt_withdrawn`): its unpaid invoices are cancelled, what was paid is shared by
        principal (`allocate_paid`) and the other debts go back to collection owing less; the
        withdrawn debts' share is the debtor's credit. False when the agreement is not active
        (broken, fulfilled: read again, nothing changes) or holds none of the debts."""
        ids = [debt_id for debt_id in self.debt_ids if debt_id in withdrawn]
        if self.status != "active" or not ids:
            return False
        # An agreement with nothing left to pay is fulfilled: there is an unpaid invoice.
        first = next(i for i in self.invoices if self.balance_of(i) > 0)
        on = max(on, self.closed_on)
        shares = allocate_paid(self.debts, self.paid_cents)
        self._broken(
            **self._parties(),
            on=on,
            paid_cents=self.paid_cents,
            rule="debt_withdrawn",
            number=first["number"],
            days_overdue=max(0, (on - first["due_date"]).days),
            debts=shares,
            withdrawn_debt_ids=ids,
            credit_cents=sum(d["paid_cents"] for d in shares if d["debt_id"] in ids),
            lowered_debts=None,
        )
        return True

    # ---- the creditor lowers a debt's amount ---------------------------------------------

    def end_by_lowering(self, lowered: Collection[dict[str, Any]], on: dt.date) -> bool:
        """The creditor lowered the original amount of debts of this agreement (a re-import's
        `DebtUpdated`): each of `lowered` says the debt's `debt_id`, its `old_amount_cents`
        and `new_amount_cents`, what it owes by the new amount (`owed_cents`: the new amount
        less what was paid on it before this agreement) and the `import_id` and `row_key` of
        the row. When a debt now owes less than the agreement charges as its principal, the
        debtor would pay more than is owed (CDC art. 42): the agreement ends as a withdrawal
        ends it (`Broken`, rule `debt_amount_lowered`), its unpaid invoices cancelled, what was
        paid shared by principal; each debt goes back to collection owing less, a lowered one
        from its new amount, and what a lowered debt's share paid beyond what it owed is the
        debtor's credit. False when the agreement is not active (read again, nothing
        changes), holds none of the debts, or none owes less than its principal here (an
        agreement closed on the creditor's new figure, or a lowering that still leaves the
        debt owing what the agreement charges)."""
        if self.status != "active":
            return False
        principals = {d["debt_id"]: int(d["principal_cents"]) for d in self.debts}
        ended = [
            {**d, "owed_cents": max(0, int(d["owed_cents"]))}
            for d in lowered
            if d["debt_id"] in principals and int(d["owed_cents"]) < principals[d["debt_id"]]
        ]
        if not ended:
            return False
        owed = {d["debt_id"]: d["owed_cents"] for d in ended}
        first = next(i for i in self.invoices if self.balance_of(i) > 0)
        on = max(on, self.closed_on)
        shares = [
            {**d, "balance_cents": max(0, owed[d["debt_id"]] - d["paid_cents"])}
            if d["debt_id"] in owed
            else d
            for d in allocate_paid(self.debts, self.paid_cents)
        ]
        self._broken(
            **self._parties(),
            on=on,
            paid_cents=self.paid_cents,
            rule="debt_amount_lowered",
            number=first["number"],
            days_overdue=max(0, (on - first["due_date"]).days),
            debts=shares,
            withdrawn_debt_ids=None,
            credit_cents=sum(
                max(0, d["paid_cents"] - owed[d["debt_id"]]) for d in shares if d["debt_id"] in owed
            ),
            lowered_debts=ended,
        )
        return True

    @event("Broken")
    def _broken(
        self,
        *,
        tenant: str,
        document: str,
        creditor: str,
        on: dt.date,
        paid_cents: int,
        rule: str,
        number: int,
        days_overdue: int,
        debts: list[dict[str, Any]],
        withdrawn_debt_ids: list[str] | None = None,
        credit_cents: int = 0,
        lowered_debts: list[dict[str, Any]] | None = None,
    ) -> None:
        self.status = "broken"
        self.ended_on = on
        # Why it ended (the debtor's break or the creditor's end, `contracts.negotiation_requests
        # .end_reason`). Snapshots taken before this was kept have none: read with `end_rule`.
        self.broken_rule = rule
        # What each debt owed when it ended (its share of what was paid taken off; a lowered
        # debt's from its new amount): payments to its cancelled invoices are deducted up to it.
        self.break_debts = debts
        # The withdrawn debts' share of what was paid (rule `debt_withdrawn`), or what the
        # lowered debts' share paid beyond their new amount (rule `debt_amount_lowered`).
        self.credit_cents += credit_cents


# The Closed event of version 1 carried `debtor_name` in clear; version 2 carries `personal`
# (sealed) and `legacy_debtor_name` (always None for new agreements).
_Closed: Any = Agreement.Closed  # type: ignore[attr-defined]
_Closed.class_version = 2
_Closed.upcast_v1_v2 = staticmethod(_upcast_v1_v2)


# Version 2 of InstallmentPaid and InvoiceOverdue say where the invoice sits in the plan
# (published as version 2 of the contracts). Read back, version 1 knows nothing of it (None):
# published as version 1, as it was.
def _upcast_place_v1_v2(state: dict[str, Any]) -> None:
    for field in ("installment_kind", "installments", "with_down_payment"):
        state.setdefault(field, None)


for _placed in (Agreement.InstallmentPaid, Agreement.InvoiceOverdue):  # type: ignore[attr-defined]
    _placed.class_version = 2
    _placed.upcast_v1_v2 = staticmethod(_upcast_place_v1_v2)


# Version 2 of Broken may end the agreement because the creditor withdrew a debt (rule
# `debt_withdrawn`, naming them, their share the debtor's credit). Version 1 was always a
# break by an overdue installment: none withdrawn, no credit.
def _upcast_broken_v1_v2(state: dict[str, Any]) -> None:
    state.setdefault("withdrawn_debt_ids", None)
    state.setdefault("credit_cents", 0)


# Version 3 may end the agreement because the creditor lowered a debt's amount (rule
# `debt_amount_lowered`, naming them in `lowered_debts`). Version 2 never did: none lowered.
def _upcast_broken_v2_v3(state: dict[str, Any]) -> None:
    state.setdefault("lowered_debts", None)


_Broken: Any = Agreement.Broken  # type: ignore[attr-defined]
_Broken.class_version = 3
_Broken.upcast_v1_v2 = staticmethod(_upcast_broken_v1_v2)
_Broken.upcast_v2_v3 = staticmethod(_upcast_broken_v2_v3)


def by_principal(principals: list[int], amount_cents: int) -> list[int]:
    """`amount_cents` shared in proportion to `principals`, largest remainders first (then the
    first debts), so the shares add up exactly; all zero when there is no principal."""
    total = sum(principals)
    if total == 0:
        return [0] * len(principals)
    exact = [amount_cents * p for p in principals]
    shares = [e // total for e in exact]
    order = sorted(range(len(principals)), key=lambda i: (-(exact[i] % total), i))
    for i in order[: amount_cents - sum(shares)]:
        shares[i] += 1
    return shares


def allocate_paid(debts: list[dict[str, Any]], paid_cents: int) -> list[dict[str, Any]]:
    """Share what was paid among the debts in proportion to their principal (largest
    remainders first, so the shares add up exactly), never beyond a debt's principal."""
    principals = [int(d["principal_cents"]) for d in debts]
    shares = by_principal(principals, min(paid_cents, sum(principals)))
    return [
        {
            "debt_id": d["debt_id"],
            "paid_cents": share,
            "balance_cents": int(d["principal_cents"]) - share,
        }
        for d, share in zip(debts, shares, strict=True)
    ]


def share_payment(
    debts: list[dict[str, Any]], owed: dict[str, int], held: Collection[str], amount_cents: int
) -> list[dict[str, Any]]:
    """A payment to a cancelled invoice of a broken agreement, shared among its debts by
    principal as the break shared what was paid (`allocate_paid`, largest remainders first):
    each debt's share is deducted from it up to what it still owes (`owed`); the rest of its
    share, and the whole share of a debt `held` (settled, withdrawn, in another agreement),
    stays the debtor's credit. Nothing is moved from one debt to another."""
    principals = [int(d["principal_cents"]) for d in debts]
    shares = by_principal(principals, amount_cents)
    if not any(principals):
        shares[0] = amount_cents  # nothing to share by: the first debt's, as credit or not
    shared = []
    for debt, share in zip(debts, shares, strict=True):
        debt_id = debt["debt_id"]
        deducted = 0 if debt_id in held else min(share, owed.get(debt_id, 0))
        shared.append(
            {"debt_id": debt_id, "deducted_cents": deducted, "credit_cents": share - deducted}
        )
    return shared


def broken_payment_reason(deducted: int, credit: int, rule: str | None = None) -> str:
    """What a payment to a cancelled invoice of a broken agreement became (pt-BR). An
    agreement the creditor ended (`CREDITOR_RULES`: a debt withdrawn or lowered) is never
    called the debtor's break."""
    ended = "acordo encerrado pelo credor" if rule in CREDITOR_RULES else "acordo quebrado"
    if credit == 0:
        return f"{ended}: o valor foi abatido das dívidas que voltaram à cobrança"
    if deducted == 0:
        return (
            f"{ended}: as dívidas do acordo já não estão em cobrança (quitadas, retiradas "
            "ou em outro acordo): o valor fica como crédito do devedor"
        )
    return (
        f"{ended}: {format_brl(deducted)} abatidos das dívidas que voltaram à cobrança; "
        f"{format_brl(credit)} ficam como crédito do devedor"
    )
