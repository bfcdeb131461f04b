"""The demo tenant's collection ruler and call campaign, created once through the admin API:
the push-notification routine's stages (aviso on day 3, questionamento 10, agendar
pagamento 20, cobrança presencial 30, negativação 45; a notice of the listing by SMS and by
e-mail when a debt reaches negativação, and the listing 10 days after the first of them went
out, held when neither could; a message when a listing is taken down) and a campaign for the
stage that calls. Then today's run, asked by
hand (`run_ruler_now`): the ruler's daily run came when the platform started, before the
demo carteira, whose stages would otherwise wait for the next business day."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from cobranca.client import GatewayClient, GatewayError


def demo_ruler(campaign_id: str) -> dict[str, Any]:
    def message(channel: str, template: str) -> dict[str, str]:
        return {"kind": "message", "channel": channel, "template": template}

    return {
        "name": "Régua padrão",
        "pre_due_days": [5, 3],
        "pre_due_actions": [message("sms", "lembrete_vencimento")],
        "stages": [
            {"stage": "notice", "day": 3, "actions": [message("sms", "aviso_cobranca")]},
            {
                "stage": "questioning",
                "day": 10,
                "actions": [message("whatsapp", "questionamento_pendencia")],
            },
            {
                "stage": "schedule_payment",
                "day": 20,
                "actions": [message("email", "agendar_pagamento")],
            },
            {
                "stage": "field_collection",
                "day": 30,
                "actions": [{"kind": "call_campaign", "campaign_id": campaign_id}],
            },
            {"stage": "credit_bureau", "day": 45, "actions": [{"kind": "credit_bureau"}]},
        ],
        "finalization_actions": [message("sms", "confirmacao_pagamento")],
        # Never listed unnoticed: a debt reaching negativação gets this notice, by SMS and by
        # e-mail (a debtor with only one of them is told too), and is listed 10 days after
        # the first that went out (the first business day from then); held when neither could.
        "listing_notice_days": 10,
        "listing_notice_actions": [
            message("sms", "aviso_negativacao"),
            message("email", "aviso_negativacao"),
        ],
        # A listed debt that leaves the ruler has its negativação taken down: the debtor is
        # told, beside the finalization's message.
        "listing_removal_actions": [message("sms", "baixa_negativacao")],
    }


DEMO_CAMPAIGN: dict[str, Any] = {
    "name": "Cobrança por telefone (30+ dias)",
    "days_overdue_min": 30,
    "minutes_per_call": 5,
}


def seed_ruler(client: GatewayClient) -> int:
    """Create the demo ruler and campaign unless the tenant has a ruler already."""
    if client.rulers():
        return 0
    campaign = client.create_campaign(DEMO_CAMPAIGN)["campaign_id"]
    client.create_ruler(demo_ruler(campaign))
    return 1


def read_everything(previous: int | None, current: int) -> bool:
    """Whether the ruler has read the whole carteira: two runs in a row went over the same
    number of open receivables, and some. The ruler reads the imported debts on its own
    (from `portfolio.debts`), after the import has completed for the portfolio."""
    return current > 0 and current == previous


def _code(exc: GatewayError) -> str:
    error = exc.body.get("error", {}) if isinstance(exc.body, dict) else {}
    return str(error.get("code", ""))


def run_ruler_now(
    client: GatewayClient,
    timeout: float = 120.0,
    pause: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Run today's ruler for the tenant once it has read the carteira; the line to print.
    Never raises: a demo without stages today is still a demo. Runs repeat safely (every
    action has its key): the last run, which confirms the count, finds nothing to do."""
    deadline = clock() + timeout
    seen: int | None = None
    done = {"stages": 0, "messages": 0, "listings": 0, "reminders": 0}
    while True:
        try:
            out = client.run_ruler()
        except httpx.HTTPError as exc:
            return f"demo tenant: the ruler was not run now ({exc!r})"
        except GatewayError as exc:
            if exc.status == 409 and _code(exc) == "not_business_day":
                return f"demo tenant: the ruler runs on the next business day ({exc})"
            # No business date seen yet by the ruler, or no answer in time: ask again.
            if not (exc.status == 503 or _code(exc) == "no_business_date"):
                return f"demo tenant: the ruler was not run now ({exc})"
        else:
            for key in done:
                done[key] += int(out.get(key, 0))
            if read_everything(seen, int(out["receivables"])):
                return (
                    f"demo tenant: today's ruler run ({out['date']}) over {out['receivables']} "
                    f"open receivables: {done['stages']} stages, {done['messages']} messages, "
                    f"{done['reminders']} reminders, {done['listings']} bureau listings"
                )
            seen = int(out["receivables"])
        if clock() >= deadline:
            return (
                "demo tenant: the ruler had not read the carteira in time; its stages come "
                "with the next business day's run (or POST /api/v1/admin/ruler/run)"
            )
        sleep(pause)
