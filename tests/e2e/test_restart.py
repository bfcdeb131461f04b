"""The platform stopped and started again, as `make up` twice (QA): the embedded broker keeps
nothing, so every service publishes its events again and every consumer reads its topics from
the start. Nothing is asked twice: the ruler does not run the business days it already ran
against the debts as they are now (it sent pre-due reminders for due dates long past)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from contracts.ruler import MESSAGES_REQUESTED_TOPIC
from tests.support.platform import RunningPlatform, running_platform, wait_for
from tests.support.topics import read_all

pytestmark = pytest.mark.e2e

TENANT = "acme"
# Due on 21/12/2026: imported on 29/12, overdue; a run of a day before 21/12 would remind it.
CARTEIRA = (
    "documento;nome;credor;contrato;parcela;valor_original;vencimento;telefone\n"
    "529.982.247-25;João da Silva;Banco Horizonte S.A.;RS-1;1;1.234,56;21/12/2026;"
    "(11) 98765-4321\n"
).encode()


def asked(platform: RunningPlatform) -> Counter[tuple[str, str, str]]:
    """The messages the ruler asked for: (purpose, template, key), each as often as asked."""
    return Counter(
        (m["purpose"], m["template"], m["key"])
        for m in asyncio.run(read_all(platform.broker.bootstrap, MESSAGES_REQUESTED_TOPIC))
    )


def set_up(platform: RunningPlatform) -> None:
    admin = platform.client(TENANT, "admin")
    admin.create_ruler(
        {
            "name": "Padrão",
            "pre_due_days": [5, 3],
            "pre_due_actions": [{"kind": "message", "channel": "sms", "template": "lembrete"}],
            "stages": [
                {
                    "stage": "notice",
                    "day": 3,
                    "actions": [{"kind": "message", "channel": "sms", "template": "aviso"}],
                }
            ],
        }
    )
    admin.save_template("sms", "lembrete", {"body": "{{ nome }}, vence em {{ vencimento }}."})
    admin.save_template("sms", "aviso", {"body": "{{ nome }}, venceu em {{ vencimento }}."})
    every_day = {"weekdays": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "24:00"}
    admin.save_messaging_settings({"windows": {"sms": every_day}})


def import_carteira(platform: RunningPlatform) -> None:
    operator = platform.client(TENANT, "operator")
    status = operator.wait_for_import(
        operator.upload_carteira(CARTEIRA, "restart.csv")["import_id"]
    )
    assert status["created"] == 1, status


def test_started_again_the_platform_asks_for_nothing_it_asked_before(tmp_path: Path) -> None:
    with running_platform(tmp_path, "tansu") as first:
        set_up(first)
        # Days 25/11 to 29/12 run with no debt; then QA's debt arrives, already overdue, and
        # the next day's run puts it in the notice stage (3 days after its due date).
        assert str(first.advance_clock(34)) == "2026-12-29"
        import_carteira(first)
        assert str(first.advance_clock(1)) == "2026-12-30"
        before = wait_for(
            lambda: (found := asked(first)) and {p for p, _, _ in found} == {"stage"} and found,
            timeout=90,
            what="the notice asked",
        )
        assert sum(before.values()) == 1, before

    with running_platform(tmp_path, "tansu") as again:
        # Every service publishes its events again on the new broker: the ruler's requests
        # come back as they were; the days it reads again must ask for nothing new.
        wait_for(
            lambda: not before - asked(again),
            timeout=90,
            what="the ruler's requests published again",
        )
        # A business day after the restart: once the ruler ran it, it read every day before
        # (were 15/12 and 17/12 run again, they would remind a debt due 21/12 that is long
        # overdue: what QA saw).
        # (31/12 is no business day for banks, 01/01 a holiday: the next is Monday 04/01.)
        assert str(again.advance_clock(5)) == "2027-01-04"
        wait_for(
            lambda: "business day 2027-01-04" in ruler_log(again),
            timeout=60,
            what="the ruler's run of 04/01",
        )
        after = asked(again)
    assert after == before, f"asked again after the restart: {after - before}"


def ruler_log(platform: RunningPlatform) -> str:
    return "\n".join(
        path.read_text(errors="replace") for path in (platform.root / "logs").glob("ruler*.log")
    )
