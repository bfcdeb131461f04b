"""The demo tenant's message templates (the texts its ruler asks for), created once through the
admin API. The demo's channels are the local outbox (<data dir>/messaging/outbox/, ./var or
COBRANCA_DATA_DIR): nothing leaves the machine."""

from __future__ import annotations

from cobranca.client import GatewayClient

DEMO_TEMPLATES: dict[tuple[str, str], dict[str, str]] = {
    ("sms", "lembrete_vencimento"): {
        "body": "{{ nome }}, sua parcela de {{ valor }} vence em {{ vencimento }}. "
        "Boleto e PIX: {{ link_portal }}"
    },
    ("sms", "aviso_cobranca"): {
        "body": "{{ nome }}, consta em aberto {{ valor }} com {{ credor }}, vencido em "
        "{{ vencimento }}. Negocie: {{ link_portal }}"
    },
    ("whatsapp", "questionamento_pendencia"): {
        "body": "Olá, {{ nome }}! A {{ assessoria }} ainda não identificou o pagamento de "
        "{{ valor }} ({{ credor }}), vencido há {{ dias_atraso }} dias. Houve algum problema? "
        "Negocie com desconto: {{ link_portal }}"
    },
    ("email", "agendar_pagamento"): {
        "subject": "{{ credor }}: vamos agendar o pagamento?",
        "body": "Olá, {{ nome }}.\n\nSua dívida com {{ credor }} ({{ valor }}, vencida em "
        "{{ vencimento }}) pode ser paga em parcelas. Escolha a melhor opção no portal: "
        "{{ link_portal }}\n\n{{ assessoria }}",
    },
    # The notice before a listing, by SMS and by e-mail (CDC art. 43 §2: the debtor is told
    # in writing before being listed).
    ("sms", "aviso_negativacao"): {
        "body": "{{ nome }}, sua dívida de {{ valor }} com {{ credor }} ({{ numero }}), vencida "
        "em {{ vencimento }}, poderá ser incluída nos cadastros de proteção ao crédito a partir "
        "de {{ data_negativacao }} se não for paga ou negociada. Negocie: {{ link_portal }}"
    },
    ("email", "aviso_negativacao"): {
        "subject": "{{ credor }}: aviso antes da inclusão nos cadastros de proteção ao crédito",
        "body": "Olá, {{ nome }}.\n\nSua dívida de {{ valor }} com {{ credor }} (contrato "
        "{{ numero }}), vencida em {{ vencimento }}, poderá ser incluída nos cadastros de "
        "proteção ao crédito a partir de {{ data_negativacao }} se não for paga ou negociada "
        "até lá.\n\nNegocie pelo portal: {{ link_portal }}\n\n{{ assessoria }}",
    },
    # A listed debt left the ruler (paid, settled, renegotiated, withdrawn): its negativação
    # was taken down, and the debtor is told (seed 002, "Remover negativações").
    ("sms", "baixa_negativacao"): {
        "body": "{{ nome }}, a negativação do seu CPF/CNPJ referente a {{ credor }}, contrato "
        "{{ numero }}, foi retirada em {{ data_baixa }}. {{ assessoria }}"
    },
    # Every exit of the ruler asks for it (paid, settled, renegotiated, cancelled by the
    # creditor): `motivo` says which, so a cancelled debt is not thanked for a payment.
    ("sms", "confirmacao_pagamento"): {
        "body": "{{ nome }}, sua dívida com {{ credor }} ({{ numero }}) foi "
        "{{ motivo | default('encerrada') }} e saiu da cobrança. {{ assessoria }}"
    },
}


def seed_messaging(client: GatewayClient) -> int:
    for (channel, name), template in DEMO_TEMPLATES.items():
        client.save_template(channel, name, template)
    client.save_messaging_settings({"agency_name": "Assessoria Demonstração"})
    return len(DEMO_TEMPLATES)
