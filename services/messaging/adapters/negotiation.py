"""The chatbot's port to the negotiation service: its requests over Kafka (the same ones the
gateway sends for the portal), asked from the use case's worker thread and awaited on the
process's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from contracts.negotiation_requests import (
    AgreementList,
    AgreementOut,
    CloseAgreement,
    GetOffers,
    GetStatement,
    ListAgreements,
    OffersOut,
    StatementOut,
)
from service_runtime.service_client import ServiceClient, ServiceRefused, ServiceUnavailable
from services.messaging.application.conversations import (
    NegotiationRefused,
    NegotiationUnavailable,
)

T = TypeVar("T")


class KafkaNegotiation:
    def __init__(self, client: ServiceClient, timeout: float) -> None:
        self.client = client
        self.timeout = timeout
        self.loop: asyncio.AbstractEventLoop | None = None  # set when the process starts

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self.loop is None:
            coroutine.close()
            raise NegotiationUnavailable("o serviço ainda está iniciando")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(self.timeout + 1)
        except ServiceRefused as exc:
            raise NegotiationRefused(exc.error.message) from exc
        except (ServiceUnavailable, TimeoutError) as exc:
            raise NegotiationUnavailable(str(exc)) from exc

    def statement(self, tenant: str, document: str) -> StatementOut:
        return self._run(
            self.client.ask(
                GetStatement(tenant=tenant, document=document), f"{tenant}|{document}", StatementOut
            )
        )

    def agreements(self, tenant: str, document: str) -> AgreementList:
        return self._run(
            self.client.ask(
                ListAgreements(tenant=tenant, document=document),
                f"{tenant}|{document}",
                AgreementList,
            )
        )

    def offers(self, tenant: str, document: str, debt_ids: list[str]) -> OffersOut:
        return self._run(
            self.client.ask(
                GetOffers(tenant=tenant, document=document, debt_ids=debt_ids, channel="chatbot"),
                f"{tenant}|{document}",
                OffersOut,
            )
        )

    def close(
        self, tenant: str, document: str, debt_ids: list[str], installments: int, key: str
    ) -> AgreementOut:
        return self._run(
            self.client.ask(
                CloseAgreement(
                    tenant=tenant,
                    document=document,
                    debt_ids=debt_ids,
                    installments=installments,
                    channel="chatbot",
                    idempotency_key=key,
                ),
                f"{tenant}|{document}",
                AgreementOut,
            )
        )
