"""One digest of what the streams say happened, leaving out what differs between two runs of
the same world by nature (random agreement ids, wall-clock times): two runs with the same seed
have the same fingerprint."""

from __future__ import annotations

import hashlib

from analytics.facts import Facts


def business_story(facts: Facts) -> list[tuple[object, ...]]:
    """The facts in a run-independent form, sorted; agreements named by who, what and when."""
    named = {
        a.agreement_id: (a.document, a.creditor, a.closed_on.isoformat(), a.debt_ids)
        for a in facts.agreements
    }
    story: list[tuple[object, ...]] = []
    story += [
        ("placed", p.debt_id, p.document, p.creditor, p.original_cents, p.due_date, p.placed_on)
        for p in facts.placements
    ]
    story += [
        ("agreement", named[a.agreement_id], a.channel, a.installments, a.total_cents,
         a.discount_cents, a.first_due)
        for a in facts.agreements
    ]  # fmt: skip
    story += [
        ("paid", named.get(i.agreement_id), i.number, i.paid_cents, i.paid_on)
        for i in facts.installments_paid
    ]
    story += [
        ("broken", named.get(b.agreement_id), b.broken_on, b.rule, b.installment_number)
        for b in facts.breaks
    ]
    story += [("settled", s.debt_id, s.settled_on, s.paid_cents) for s in facts.settlements]
    return sorted(story, key=repr)


def fingerprint(facts: Facts) -> str:
    return hashlib.sha256(repr(business_story(facts)).encode()).hexdigest()[:16]
