"""What `cobranca simulate` prints at the end, read by a person: pt-BR throughout (channels as
the timeline names them, call results by the campaign's labels), and two counts of broken
agreements that say what each counts. The JSON summary keeps its English keys."""

from __future__ import annotations

import datetime as dt

import pytest

from cobranca.simulation.cli import _print, activity_label


def summary() -> dict[str, object]:
    fpd_rows = [
        {"cuts": {"channel": "chatbot"}, "agreements": 3, "defaulted": 1, "rate": 0.3333},
        {"cuts": {"channel": "operator"}, "agreements": 4, "defaulted": 2, "rate": 0.5},
        {"cuts": {"channel": "portal"}, "agreements": 0, "defaulted": 0, "rate": None},
    ]
    return {
        "seed": 42,
        "debtors": 20,
        "days": 4,
        "as_of": dt.date(2026, 1, 8),
        "activity": {
            "agreements (chatbot)": 3,
            "agreements (operator)": 4,
            "agreements (portal)": 2,
            "agreements found broken": 2,
            "calls: no_answer": 7,
            "calls: promise": 1,
            "chatbot conversations": 5,
            "debts placed": 31,
            "gave up, platform busy (portal)": 1,
            "offers declined (chatbot)": 2,
            "offers refused (409)": 1,
            "payments": 6,
            "portal lookups": 9,
            "rows rejected": 0,
        },
        "paid_cents": 123_456,
        "streams": {"fingerprint": "abc123"},
        "fpd": {"fpd_0": fpd_rows},
        "recovery": [
            {
                "cuts": {"creditor": "Banco"},
                "debts": 31,
                "placed_cents": 1_000_000,
                "received_cents": 123_456,
                "rate": 0.1235,
            },
        ],
        "agreements": [
            {
                "cuts": {},
                "debtors": 20,
                "debtors_with_agreement": 9,
                "agreement_rate": 0.45,
                "agreements": 9,
                "broken": 12,
                "break_rate": 0.3333,
            },
        ],
    }


def test_the_summary_is_printed_in_pt_br(capsys: pytest.CaptureFixture[str]) -> None:
    _print(summary())

    shown = " ".join(capsys.readouterr().out.split())
    for english in ("agreements (", "calls: ", "debts placed", "payments", "portal lookups",
                    "operator", "found broken", "chatbot conversations"):  # fmt: skip
        assert english not in shown, english
    for said in ("acordos fechados (chatbot)", "acordos fechados (atendente)",
                 "ligações: não atendeu", "ligações: promessa de pagamento",
                 "dívidas importadas", "parcelas pagas pelo banco", "consultas no portal",
                 "desistências, plataforma ocupada (portal)",
                 "ofertas negadas pela plataforma (HTTP 409)",
                 "acordos que o devedor achou quebrados ao ir pagar"):  # fmt: skip
        assert said in shown, said
    # The FPD table's channels as the timeline names them.
    assert "atendente" in shown
    # The topics' count of broken agreements says it counts them all.
    assert "quebrados: 12 (taxa de quebra 33,3%; todos os que a plataforma quebrou" in shown


def test_an_unknown_count_is_shown_as_it_is() -> None:
    assert activity_label("something new") == "something new"
    assert activity_label("calls: voicemail") == "ligações: voicemail"
