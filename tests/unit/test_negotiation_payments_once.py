"""A payment counts once whichever door brought it (the API or the bank's CNAB 240 return),
and a return file is applied only when it is of the tenant's bank and whole as the bank wrote
it: another bank's file, a file cut short or edited changes nothing (422, every line named).
The defects QA found: a CNAB payment posted again by API was credited again, the same file
with its bank code changed (341, or 999: no bank) was credited again by digits, and a file cut
by `head -c 900` was applied with a 200."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.negotiation_requests import GetAgreement, ImportCnab240
from service_runtime.refusal import Refused
from services.negotiation.entrypoints.requests import answer
from tests.unit.test_negotiation_app import (
    AGENCY,
    TODAY,
    Negotiation,
    debt_event,
    paid_in_full,
    return_file,
)


@pytest.fixture
def neg(tmp_path: Path) -> Iterator[Negotiation]:
    n = Negotiation(tmp_path)
    n.portal_discounts()
    yield n


def _import(neg: Negotiation, content: str) -> Any:
    return neg.app.import_cnab240(ImportCnab240(tenant=AGENCY, content=content), TODAY)


def _refusal(neg: Negotiation, content: str) -> Any:
    # As the gateway asks it.
    with pytest.raises(Refused) as refused:
        answer(neg.app, ImportCnab240(tenant=AGENCY, content=content), TODAY)
    return refused.value.reply()


def _state(neg: Negotiation, agreement: Any) -> Any:
    return neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), TODAY
    )


def _received(neg: Negotiation) -> list[Any]:
    return [e for e in neg.published() if e.type == "PaymentReceived"]


# --- one payment, two doors ---------------------------------------------------------------


def test_a_bank_payment_posted_again_by_api_is_the_same_payment(neg: Negotiation) -> None:
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 3)
    first = agreement.invoices[0]
    [by_bank] = _import(neg, return_file(paid_in_full(first))).payments
    assert (by_bank.outcome, by_bank.duplicate) == ("paid", False)

    by_api = neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)

    # QA had: already_paid, credit_cents = the whole amount, duplicate false.
    assert by_api.duplicate
    assert (by_api.payment_id, by_api.outcome, by_api.credit_cents) == (
        by_bank.payment_id,
        "paid",
        0,
    )
    assert _state(neg, agreement).credit_cents == 0
    assert len(_received(neg)) == 1
    # Posted again, with the integration's own id this time: still that one payment.
    again = neg.pay(
        invoice_id=first.invoice_id,
        amount_cents=first.amount_cents,
        paid_on=TODAY,
        reference="erp-123",
    )
    assert again.duplicate and again.payment_id == by_bank.payment_id


def test_an_api_payment_the_bank_then_returns_is_the_same_payment(neg: Negotiation) -> None:
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 3)
    first = agreement.invoices[0]
    by_api = neg.pay(
        invoice_id=first.invoice_id,
        amount_cents=first.amount_cents,
        paid_on=TODAY,
        reference="erp-123",
    )

    [by_bank] = _import(neg, return_file(paid_in_full(first))).payments

    assert by_bank.duplicate and by_bank.payment_id == by_api.payment_id
    assert by_bank.outcome == "paid"
    assert _state(neg, agreement).credit_cents == 0
    assert len(_received(neg)) == 1


def test_two_payments_of_one_door_with_their_own_references_are_two(neg: Negotiation) -> None:
    # The debtor paid the PIX of a partly paid installment twice the same day: two end-to-end
    # ids. The second is credit, not a duplicate.
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 3)
    first = agreement.invoices[0]
    pix = {"invoice_id": first.invoice_id, "amount_cents": 1_000, "paid_on": TODAY}
    one = neg.pay(**pix, reference="E0000000020261125a")
    two = neg.pay(**pix, reference="E0000000020261125b")

    assert not one.duplicate and not two.duplicate
    assert one.payment_id != two.payment_id
    assert _state(neg, agreement).invoices[0].paid_cents == 2_000
    # Each reported again: each the payment it was.
    assert neg.pay(**pix, reference="E0000000020261125b").payment_id == two.payment_id
    # Without a reference it cannot be told apart: the first.
    blind = neg.pay(**pix)
    assert blind.duplicate and blind.payment_id == one.payment_id
    assert len(_received(neg)) == 2


def test_one_bank_payment_and_one_api_payment_pair_up_one_to_one(neg: Negotiation) -> None:
    # Two payments reported by the API (two ids), then the bank's return of that amount and
    # day: the first of them (each report of one door pairs with one of the other's).
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 3)
    first = agreement.invoices[0]
    part = {"invoice_id": first.invoice_id, "amount_cents": 1_000, "paid_on": TODAY}
    a = neg.pay(**part, reference="pix-a")
    neg.pay(**part, reference="pix-b")
    bank = dataclasses.replace(paid_in_full(first), amount_cents=1_000, paid_cents=1_000)

    [by_bank] = _import(neg, return_file(bank)).payments

    assert by_bank.duplicate and by_bank.payment_id == a.payment_id
    # The same file again: that same payment.
    [again] = _import(neg, return_file(bank)).payments
    assert again.duplicate and again.payment_id == a.payment_id
    # A third id by the API: a third payment.
    c = neg.pay(**part, reference="pix-c")
    assert not c.duplicate
    assert _state(neg, agreement).invoices[0].paid_cents == 3_000


# --- a return file of the tenant's bank, whole --------------------------------------------


@pytest.mark.parametrize(
    ("bank_code", "rule", "said"),
    [
        (
            "341",
            "other_bank",
            "arquivo de retorno do banco 341 (Itaú), mas os boletos da assessoria são do banco "
            "237 (Bradesco): nada foi aplicado",
        ),
        (
            "999",
            "unknown_bank",
            "código do banco '999' (posições 1-3 do header) não é de um banco conhecido; os "
            "boletos da assessoria são do banco 237 (Bradesco): nada foi aplicado",
        ),
    ],
)
def test_a_return_file_of_another_bank_changes_nothing(
    neg: Negotiation, bank_code: str, rule: str, said: str
) -> None:
    # QA: `sed 's/^237/341/'` (and 999) on a Bradesco return, matched by digits, credited again.
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 3)
    content = return_file(paid_in_full(agreement.invoices[0]))
    other = "".join(
        bank_code + line[3:] + "\r\n" for line in content.split("\r\n")[:-1]
    )  # every record's bank code, as sed did

    error = _refusal(neg, other)

    assert (error.status, error.code, error.message) == (422, "validation_failed", said)
    assert [(d.field, d.rule, d.message) for d in error.details] == [("bank_code", rule, said)]
    assert _received(neg) == []
    assert _state(neg, agreement).invoices[0].status == "open"
    # The bank's own file pays it.
    assert [p.outcome for p in _import(neg, content).payments] == ["paid"]


def test_a_return_file_cut_short_changes_nothing(neg: Negotiation) -> None:
    # QA: `head -c 900`: header, batch header, T, and a U of 174 columns; no trailers.
    [a, b] = neg.imported(debt_event("a"), debt_event("b"))
    first = neg.close([a], 1).invoices[0]
    second = neg.close([b], 1, key="k2").invoices[0]
    content = return_file(paid_in_full(first), paid_in_full(second))

    error = _refusal(neg, content[:900])

    assert (error.status, error.code) == (422, "validation_failed")
    assert [(d.field, d.rule, d.message) for d in error.details] == [
        ("file", "truncated", "linha 2: lote 1 sem trailer de lote"),
        ("file", "record_length", "linha 4: tem só 174 colunas; o registro CNAB 240 tem 240"),
        (
            "file",
            "truncated",
            "linha 4: o arquivo termina sem trailer de arquivo (registro tipo 9): pode estar "
            "incompleto",
        ),
    ]
    assert error.message.startswith(
        "o arquivo de retorno não está inteiro como o banco o gerou (cortado ou alterado); "
        "nada foi aplicado: linha 2: lote 1 sem trailer de lote (e mais 2 problema(s)"
    )
    assert _received(neg) == []

    # Cut anywhere past its first record, or with a record gone: nothing applied either.
    lines = content.split("\r\n")[:-1]
    for broken in (
        content[:1500],
        content[: len(content) - 300],
        "".join(line + "\r\n" for line in lines[:3] + lines[5:]),  # a T+U pair gone
        "".join(line[:212] + "\r\n" for line in lines),  # every line cut at 212 columns
    ):
        assert {d.field for d in _refusal(neg, broken).details} == {"file"}
    assert _received(neg) == []

    # Whole, with a last line end or not, blank lines or a DOS end-of-file mark after it.
    for whole in (content + "\r\n\x1a", content[:-2]):
        assert len(_import(neg, whole).payments) == 2
    assert len(_received(neg)) == 2


def test_a_return_file_whose_trailing_blanks_were_stripped_applies_as_the_whole_one(
    neg: Negotiation,
) -> None:
    # QA: the bank's return forwarded by e-mail came with each line's trailing blanks gone
    # (lines of 171, 207, 213, 115 and 35 columns) and was refused whole: record_length on
    # every line, nothing applied.
    [a, b] = neg.imported(debt_event("a"), debt_event("b"))
    first = neg.close([a], 1).invoices[0]
    second = neg.close([b], 1, key="k2").invoices[0]
    content = return_file(paid_in_full(first), paid_in_full(second))
    lines = content.split("\r\n")[:-1]
    stripped = "\n".join(line.rstrip(" ") for line in lines)  # LF, no last line end
    assert all(len(line) < 240 for line in stripped.split("\n"))

    result = _import(neg, stripped)

    assert [(p.invoice_id, p.outcome, p.duplicate) for p in result.payments] == [
        (first.invoice_id, "paid", False),
        (second.invoice_id, "paid", False),
    ]
    assert result.skipped == []
    # The whole file afterwards: the same payments, counted once.
    again = _import(neg, content)
    assert [(p.payment_id, p.duplicate) for p in again.payments] == [
        (p.payment_id, True) for p in result.payments
    ]
    assert len(_received(neg)) == 2


def test_a_return_file_with_a_line_cut_inside_its_data_changes_nothing(neg: Negotiation) -> None:
    # Stripping takes blanks only: a segment U that ends before its last numeric field, or a
    # batch trailer before its totals, lost data. Nothing of the file is applied.
    [a, b] = neg.imported(debt_event("a"), debt_event("b"))
    first = neg.close([a], 1).invoices[0]
    second = neg.close([b], 1, key="k2").invoices[0]
    lines = return_file(paid_in_full(first), paid_in_full(second)).split("\r\n")[:-1]
    lines = [line.rstrip(" ") for line in lines]
    lines[5] = lines[5][:150]  # the second U: its data do crédito (146-153) cut
    lines[6] = lines[6][:100]  # the batch trailer: its totals cut

    error = _refusal(neg, "\n".join(lines))

    assert [(d.field, d.rule, d.message) for d in error.details] == [
        ("file", "truncated", "linha 2: lote 1 sem trailer de lote"),  # its trailer unread
        ("file", "record_length", "linha 6: tem só 150 colunas; o registro CNAB 240 tem 240"),
        ("file", "record_length", "linha 7: tem só 100 colunas; o registro CNAB 240 tem 240"),
    ]
    assert _received(neg) == []


def test_a_trailer_whose_counts_do_not_add_up_changes_nothing(neg: Negotiation) -> None:
    [debt] = neg.imported(debt_event("a"))
    first = neg.close([debt], 1).invoices[0]
    lines = return_file(paid_in_full(first)).split("\r\n")[:-1]
    lines[-1] = lines[-1][:23] + "000009" + lines[-1][29:]  # the file's records: 6

    error = _refusal(neg, "".join(line + "\r\n" for line in lines))

    assert [(d.field, d.rule, d.message) for d in error.details] == [
        (
            "file",
            "trailer_count",
            "linha 6: o trailer do arquivo declara 9 registros, mas o arquivo tem 6",
        )
    ]
    assert _received(neg) == []
