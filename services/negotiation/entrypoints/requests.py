"""Answering requests on `negotiation.requests` (from the gateway and other services)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from contracts.negotiation_requests import (
    REQUESTS_TOPIC,
    CloseAgreement,
    GetAgreement,
    GetDocument,
    GetOffers,
    GetSettings,
    GetStatement,
    ImportCnab240,
    ListAgreements,
    ListConditions,
    NegotiationRequestBody,
    RecordPayment,
    SaveCondition,
    SaveSettings,
)
from service_runtime.host import ServiceHost
from service_runtime.refusal import Refused
from service_runtime.request_server import Answer, RequestServer
from services.negotiation.adapters.agreement_documents import (
    invoice_document,
    statement_document,
    term_document,
)
from services.negotiation.application import NegotiationApplication


class NegotiationRequests:
    def __init__(self, host: ServiceHost, app: NegotiationApplication) -> None:
        self.host = host
        self.app = app
        self.server = RequestServer(
            host, REQUESTS_TOPIC, "negotiation.requests", NegotiationRequestBody, self.run
        )

    def run(self, request: Any) -> Answer:
        return answer(self.app, request, self.host.clock.today())


def answer(app: NegotiationApplication, request: Any, today: dt.date) -> Answer:
    """The answer to one request (a model of `NegotiationRequestBody`'s union) on `today`;
    raises Refused. What the request server runs, and tests run in process."""
    if isinstance(request, SaveCondition):
        return app.save_condition(request)
    if isinstance(request, ListConditions):
        return app.list_conditions(request.tenant)
    if isinstance(request, SaveSettings):
        return app.save_settings(request)
    if isinstance(request, GetSettings):
        return app.settings_of(request.tenant)
    if isinstance(request, GetOffers):
        return app.offers(request, today)
    if isinstance(request, CloseAgreement):
        return app.close_agreement(request, today)  # type: ignore[no-any-return]
    if isinstance(request, GetAgreement):
        return app.get_agreement(request, today)  # type: ignore[no-any-return]
    if isinstance(request, ListAgreements):
        return app.list_agreements(request, today)
    if isinstance(request, GetStatement):
        statement = app.statement(request, today)
        if request.pdf:
            name = app.settings_of(request.tenant).boleto.beneficiary_name
            agreements = app.list_agreements(
                ListAgreements(tenant=request.tenant, document=request.document), today
            )
            return statement_document(statement, name, agreements.agreements)
        return statement
    if isinstance(request, RecordPayment):
        return app.record_payment(request.tenant, request.payment, source="api", today=today)
    if isinstance(request, ImportCnab240):
        return app.import_cnab240(request, today)
    if isinstance(request, GetDocument):
        return document(app, request, today)
    raise Refused(400, "unknown_request", f"pedido desconhecido: {request.kind}")


def document(app: NegotiationApplication, request: GetDocument, today: dt.date) -> bytes:
    """An agreement's term, or one of its invoices (boleto), as a PDF; a boleto only while it
    pays its invoice (refused 409 once paid, cancelled or partly paid, to every caller)."""
    agreement = app.agreement(
        GetAgreement(
            tenant=request.tenant,
            agreement_id=request.agreement_id,
            document=request.document,
        )
    )
    settings = app.settings_of(request.tenant)
    # The debtor's name opened now: once erased, the documents show it removed.
    name = app.debtor_name(agreement)
    if request.invoice_id is None:
        # Why it ended, as its answer says it (an older snapshot's rule from its events).
        end_reason = app.agreement_out(agreement, today).end_reason
        return term_document(agreement, settings.boleto.beneficiary_name, name, end_reason)
    invoice = app.boleto_invoice(agreement, request.invoice_id, today)
    return invoice_document(agreement, invoice, settings, name)
