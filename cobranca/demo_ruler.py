"""The demo tenant's collection ruler and call campaign, created once through the admin API:
the push-notification routine's stages (aviso on day 3, questionamento 10, agendar
pagamento 20, cobrança presencial 30, negativação 45) and a campaign for the stage that
calls."""

from __future__ import annotations

from typing import Any

from cobranca.client import GatewayClient


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
