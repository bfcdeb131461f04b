"""The demo tenant's portal profile: the name its debtors see at /p/demo (no logo, and an
empty portal list: every open debt can be negotiated there). Created once, through the admin
API, as an agency's admin would."""

from __future__ import annotations

from typing import Any

from cobranca.client import GatewayClient, GatewayError

DEMO_PROFILE: dict[str, Any] = {"name": "Demo Cobranças", "portal_list": {}}


def seed_portal(client: GatewayClient) -> bool:
    """Save the demo profile unless the tenant has one. True when it was created."""
    if client.http.get("/api/v1/admin/portal").status_code == 200:
        return False
    answer = client.http.put("/api/v1/admin/portal", json=DEMO_PROFILE)
    if answer.status_code >= 400:
        raise GatewayError(answer.status_code, answer.json())
    return True
