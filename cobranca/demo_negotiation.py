"""The demo tenant's negotiation setup: payment conditions like the Recuperador portal's
"descontos do portal" and the settings of its boletos and PIX. Created once, through the
admin API, as an agency's admin would."""

from __future__ import annotations

from typing import Any

from cobranca.client import GatewayClient

DEMO_CONDITIONS: list[dict[str, Any]] = [
    {
        "installments": 1,
        "description": "À vista: 10% de desconto na dívida, juros, multa e correção perdoados",
        "charges_discount_pct": 100,
        "principal_discount_pct": 10,
    },
    {
        "installments": 3,
        "description": "3x com metade dos encargos perdoada",
        "charges_discount_pct": 50,
        "min_installment_cents": 5_000,
    },
    *[
        {
            "installments": n,
            "description": f"{n}x sem desconto, entrada mínima de 20%",
            "min_down_payment_pct": 20,
            "min_installment_cents": 5_000,
            "days_overdue_min": 30,
        }
        for n in (6, 12)
    ],
]

DEMO_SETTINGS: dict[str, Any] = {
    "boleto": {
        "bank_code": "237",
        "bank_name": "Banco Bradesco S.A.",
        "agency": "1234",
        "account": "0012345",
        "wallet": "09",
        "beneficiary_name": "Assessoria Demonstração Ltda",
        "beneficiary_document": "11222333000181",
    },
    "pix": {
        "key": "pix@assessoria-demo.com.br",
        "merchant_name": "ASSESSORIA DEMONSTRACAO",
        "merchant_city": "SAO PAULO",
    },
}


def seed_negotiation(client: GatewayClient) -> int:
    """Create the demo conditions and settings unless the tenant has conditions already.
    Returns how many conditions were created."""
    if client.conditions():
        return 0
    client.save_negotiation_settings(DEMO_SETTINGS)
    for terms in DEMO_CONDITIONS:
        client.create_condition(terms)
    return len(DEMO_CONDITIONS)
