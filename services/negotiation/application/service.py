"""Use cases of the negotiation service: conditions and settings, offers, closing
agreements, payments and the daily run. Commands in, aggregates saved, events out (through
the outbox relay). Every date comes from the caller (the business clock)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic
from pydantic import ValidationError

from contracts.documents import InvalidDocument, validate_document
from contracts.invoices import boleto_withheld
from contracts.negotiation import PaymentConditionTerms
from contracts.negotiation_requests import (
    AgreementList,
    AgreementOut,
    BoletoSettings,
    CloseAgreement,
    Cnab240Out,
    ConditionList,
    ConditionOut,
    CreditorCharges,
    GetAgreement,
    GetOffers,
    GetStatement,
    ImportCnab240,
    ListAgreements,
    NegotiationSettings,
    Offer,
    OfferDebt,
    OffersOut,
    PaymentOut,
    PaymentReport,
    PixSettings,
    SaveCondition,
    SaveSettings,
    ScheduledInstallment,
    StatementDebt,
    StatementOut,
)
from contracts.personal import SealedPersonalData
from contracts.portfolio import DebtUpdated, DebtUpdatedV2, DebtWithdrawn
from service_runtime.eventstore import ServiceApplication
from service_runtime.personal_data import REMOVED, KeyVault, seal, unseal
from service_runtime.refusal import Refused, field_refusal, not_found_refusal
from services.negotiation.adapters.cnab240 import Cnab240File, NotACnab240File, parse_cnab240
from services.negotiation.adapters.debts_view import DebtRow
from services.negotiation.application.views import agreement_out, invoice_status, payment_out
from services.negotiation.domain.agreement import Agreement, agreement_id_for, invoice_id_for
from services.negotiation.domain.boleto import (
    SUPPORTED_BANKS,
    AccountProblem,
    BeneficiaryAccount,
    account_problems,
    make_boleto,
    nosso_numero_from_segment_t,
    printed_nosso_numero,
    sequence_capacity,
    sequence_problem,
)
from services.negotiation.domain.charges import (
    CONSUMER_PENALTY_CAP_PCT,
    for_debtor,
    updated_value,
)
from services.negotiation.domain.condition import PaymentCondition, condition_aggregate_id
from services.negotiation.domain.offers import (
    MIXED_CREDITORS_MESSAGE,
    ConditionChoice,
    DebtForOffer,
    OfferQuote,
    creditor_key,
    offers_for,
    suggested_value,
)
from services.negotiation.domain.pix import pix_code, pix_key_problem, txid_for
from services.negotiation.domain.references import (
    DebtorAgreements,
    DebtSlot,
    InvoiceRef,
    Payment,
    debt_slot_id,
    debtor_agreements_id,
    invoice_ref_id,
    payment_aggregate_id,
)
from services.negotiation.domain.tenant import (
    NossoNumerosExhausted,
    TenantNegotiation,
    issuing_settings,
    tenant_aggregate_id,
)

log = logging.getLogger(__name__)


class DebtLookup(Protocol):
    """The port to the debts (the projection's table); `open_debts`: the debtor's debts not
    settled and with a balance."""

    def debts(self, tenant: str, debt_ids: Sequence[str]) -> list[DebtRow]: ...
    def open_debts(self, tenant: str, document: str) -> list[DebtRow]: ...


class NoDebts:
    def debts(self, tenant: str, debt_ids: Sequence[str]) -> list[DebtRow]:
        return []

    def open_debts(self, tenant: str, document: str) -> list[DebtRow]:
        return []


class ErasedDebtors(Protocol):
    """The port to the erasures the service applied (`privacy.erasures`): whether the
    debtor's personal data was erased (what hides the clear names of legacy agreements)."""

    def erased(self, tenant: str, document: str) -> bool: ...


class NoErasures:
    def erased(self, tenant: str, document: str) -> bool:
        return False


class NegotiationApplication(ServiceApplication):
    name = "negotiation"
    # Tenants and agreements collect many events (nosso números, payments, overdue days).
    snapshotting_intervals = {TenantNegotiation: 50, Agreement: 50}  # noqa: RUF012

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env=env)
        self.debt_lookup: DebtLookup = NoDebts()
        # The debtors' keys: the worker sets the host's (see service_runtime.personal_data).
        self.vault: KeyVault | None = None
        self.erasures: ErasedDebtors = NoErasures()

    # ---- helpers -------------------------------------------------------------------------

    def tenant_record(self, tenant: str) -> TenantNegotiation:
        found = self.get_or_none(TenantNegotiation, tenant_aggregate_id(tenant))
        if found is not None:
            return found
        return TenantNegotiation(
            tenant=tenant, settings_json=NegotiationSettings().model_dump_json()
        )

    def settings_of(self, tenant: str) -> NegotiationSettings:
        return NegotiationSettings.model_validate_json(self.tenant_record(tenant).settings_json)

    @staticmethod
    def charges_for(settings: NegotiationSettings, creditor: str, document: str) -> CreditorCharges:
        """The creditor's charges (its own, else the tenant's), as the debtor is charged them:
        a consumer's multa capped at 2% (`for_debtor`)."""
        wanted = creditor_key(creditor)
        for name, charges in settings.creditor_charges.items():
            if creditor_key(name) == wanted:
                return for_debtor(charges, document)
        return for_debtor(settings.charges, document)

    # ---- personal data ------------------------------------------------------------------

    def _vault(self) -> KeyVault:
        if self.vault is None:
            raise RuntimeError("negotiation: no key vault (set NegotiationApplication.vault)")
        return self.vault

    def seal_debtor_name(self, tenant: str, document: str, name: str) -> dict[str, str]:
        """The debtor's name sealed with the debtor's key, as the agreement keeps it."""
        vault = self._vault()
        return seal(vault.key_for(tenant, document), {"debtor_name": name}).model_dump()

    def debtor_name(self, agreement: Agreement) -> str:
        """The agreement's debtor name in clear, opened now: `REMOVED` once the debtor's data
        was erased."""
        if agreement.personal is None:
            # Closed before names were sealed: in clear in its event, hidden once erased.
            legacy = agreement.legacy_debtor_name
            if legacy is None or self.erasures.erased(agreement.tenant, agreement.document):
                return REMOVED
            return legacy
        sealed = SealedPersonalData.model_validate(agreement.personal)
        try:
            opened = unseal(sealed, self._vault())
        except ValueError:
            log.warning("agreement %s: its debtor's name does not open", agreement.id)
            return REMOVED
        if opened is None:
            return REMOVED
        return str(opened.get("debtor_name") or "")

    def agreement_out(
        self, agreement: Agreement, today: dt.date, replayed: bool = False
    ) -> AgreementOut:
        return agreement_out(
            agreement,
            self.debtor_name(agreement),
            today,
            replayed=replayed,
            end_rule=self._broken_rule(agreement),
            owed_cents=self.owed_since_end(agreement),
        )

    def owed_since_end(self, agreement: Agreement) -> int | None:
        """What the debts of a broken agreement still owe (None for another): each debt's
        balance since the end (`Agreement.owed_after_break`, at most what the debts' view says
        it owes now: a creditor's lowering after the end included); nothing for a debt settled
        or withdrawn by the creditor. 0: the end, or the payments since, left nothing to pay
        (QA pass 9, D4: not "negociar o novo valor")."""
        if agreement.status != "broken":
            return None
        rows = {r.debt_id: r for r in self.debt_lookup.debts(agreement.tenant, agreement.debt_ids)}
        owed = agreement.owed_after_break({d: r.balance_cents for d, r in rows.items()})
        return sum(
            cents
            for debt_id, cents in owed.items()
            if (row := rows.get(debt_id)) is not None and not row.settled
        )

    def _broken_rule(self, agreement: Agreement) -> str | None:
        """The rule a broken agreement ended by, read from its stored `Broken` event when the
        aggregate came from a snapshot taken before it kept the rule (None otherwise)."""
        if agreement.status != "broken" or agreement.end_rule is not None:
            return None
        return next(
            (
                str(event.rule)
                for event in self.events.get(agreement.id)
                if isinstance(event, Agreement.Broken)  # type: ignore[attr-defined]
            ),
            None,
        )

    # ---- settings and conditions ---------------------------------------------------------

    def save_settings(self, request: SaveSettings) -> NegotiationSettings:
        account = beneficiary_account(request.settings.boleto)
        problems = account_problems(account)
        if problems:
            raise boleto_settings_refusal(problems, 422)
        if found := document_and_key_problems(request.settings) + penalty_problems(
            request.settings
        ):
            raise Refused(
                422,
                "validation_failed",
                "; ".join(f"{field}: {message}" for field, _, message in found),
                found,
            )

        def command() -> NegotiationSettings:
            record = self.tenant_record(request.tenant)
            # The sequence goes on from where it is under any bank: a layout with no room
            # left after it could number no boleto at all.
            exhausted = sequence_problem(account, record.allocated_nosso_numeros)
            if exhausted is not None:
                raise boleto_settings_refusal([exhausted], 422)
            record.save_settings(
                settings_json=request.settings.model_dump_json(), saved_by=request.saved_by
            )
            self.save(record)
            return request.settings

        return self.retrying(command)

    def save_condition(self, request: SaveCondition) -> ConditionOut:
        condition_id = request.condition_id or str(uuid.uuid4())
        terms_json = request.terms.model_dump_json()

        def command() -> ConditionOut:
            existing = self.get_or_none(
                PaymentCondition, condition_aggregate_id(request.tenant, condition_id)
            )
            if existing is None and request.existing_only:
                raise not_found_refusal(
                    "condition_id", f"condição de pagamento {condition_id} não encontrada"
                )
            if existing is None:
                condition = PaymentCondition(
                    tenant=request.tenant,
                    condition_id=condition_id,
                    terms_json=terms_json,
                    saved_by=request.saved_by,
                )
                record = self.tenant_record(request.tenant)
                record.add_condition(condition_id=condition_id)
                self.save(condition, record)
            else:
                condition = existing
                if condition.terms_json != terms_json:
                    condition.change(terms_json=terms_json, saved_by=request.saved_by)
                    self.save(condition)
            return ConditionOut(
                condition_id=condition_id,
                version=condition.version,
                terms=PaymentConditionTerms.model_validate_json(condition.terms_json),
            )

        return self.retrying(command)

    def conditions(self, tenant: str) -> list[ConditionChoice]:
        record = self.get_or_none(TenantNegotiation, tenant_aggregate_id(tenant))
        if record is None:
            return []
        choices = []
        for condition_id in record.condition_ids:
            condition = self.get_or_none(
                PaymentCondition, condition_aggregate_id(tenant, condition_id)
            )
            if condition is not None:
                choices.append(
                    ConditionChoice(
                        condition_id=condition_id,
                        version=condition.version,
                        terms=PaymentConditionTerms.model_validate_json(condition.terms_json),
                    )
                )
        return choices

    def list_conditions(self, tenant: str) -> ConditionList:
        return ConditionList(
            conditions=[
                ConditionOut(condition_id=c.condition_id, version=c.version, terms=c.terms)
                for c in sorted(
                    self.conditions(tenant),
                    key=lambda c: (c.terms.creditor, c.terms.installments, c.condition_id),
                )
            ]
        )

    # ---- offers --------------------------------------------------------------------------

    def _negotiable(
        self, tenant: str, debt_ids: Sequence[str], document: str | None
    ) -> list[DebtRow]:
        """The debts asked for, checked: known, of one debtor (the portal's own, when it
        asks), of one creditor, not settled, not in an active agreement."""
        unique = list(dict.fromkeys(debt_ids))
        rows = self.debt_lookup.debts(tenant, unique)
        found = {r.debt_id for r in rows}
        missing = [i for i in unique if i not in found]
        if document is not None:
            missing += [r.debt_id for r in rows if r.document != document]
        if missing:
            message = not_found_message(missing)
            raise Refused(404, "debt_not_found", message, [("debt_ids", "not_found", message)])
        if len({r.document for r in rows}) > 1:
            raise field_refusal(
                "debt_ids", "same_debtor", "as dívidas de um acordo são de um mesmo devedor"
            )
        if len({creditor_key(r.creditor) for r in rows}) > 1:
            raise field_refusal("debt_ids", "same_creditor", MIXED_CREDITORS_MESSAGE)
        withdrawn = [r.debt_id for r in rows if r.withdrawn]
        if withdrawn:
            raise Refused(
                409,
                "debt_withdrawn",
                "dívida retirada da cobrança pelo credor: " + ", ".join(withdrawn),
                [
                    ("debt_ids", "withdrawn", f"dívida {i} retirada da cobrança pelo credor")
                    for i in withdrawn
                ],
            )
        settled = [r.debt_id for r in rows if r.settled or r.balance_cents == 0]
        if settled:
            raise Refused(
                409,
                "debt_settled",
                "dívida já quitada: " + ", ".join(settled),
                [("debt_ids", "settled", f"dívida {i} já quitada") for i in settled],
            )
        for row in rows:
            self._free_slot(tenant, row.debt_id)
        return rows

    def _free_slot(self, tenant: str, debt_id: str) -> DebtSlot:
        """The debt's slot, refused when an active agreement holds it. The agreement is saved
        with this very version of the slot: if another close takes it meanwhile, the store
        refuses one of the two saves."""
        slot = self.get_or_none(DebtSlot, debt_slot_id(tenant, debt_id))
        if slot is not None and slot.agreement_id is not None:
            raise Refused(
                409,
                "debt_in_agreement",
                f"a dívida {debt_id} já está no acordo {slot.agreement_id}",
                [("debt_ids", "in_agreement", f"dívida {debt_id} já tem acordo ativo")],
            )
        return slot or DebtSlot(tenant=tenant, debt_id=debt_id)

    def _quotes(
        self, tenant: str, rows: list[DebtRow], channel: str, today: dt.date
    ) -> tuple[list[OfferQuote], NegotiationSettings]:
        settings = self.settings_of(tenant)
        debts = [
            DebtForOffer(
                debt_id=r.debt_id,
                creditor=r.creditor,
                contract=r.contract,
                installment=r.installment,
                principal_cents=r.balance_cents,
                due_date=r.due_date,
                category=r.category,
            )
            for r in rows
        ]
        try:
            quotes = offers_for(
                debts,
                self.conditions(tenant),
                today,
                channel,
                self.charges_for(settings, rows[0].creditor, rows[0].document),
            )
        except ValueError as exc:
            raise field_refusal("debt_ids", "same_creditor", str(exc)) from exc
        return quotes, settings

    def offers(self, request: GetOffers, today: dt.date) -> OffersOut:
        rows = self._negotiable(request.tenant, request.debt_ids, request.document)
        quotes, settings = self._quotes(request.tenant, rows, request.channel, today)
        charges = self.charges_for(settings, rows[0].creditor, rows[0].document)
        values = [updated_value(r.balance_cents, r.due_date, today, charges) for r in rows]
        return OffersOut(
            as_of=today,
            creditor=rows[0].creditor,
            debts=[
                OfferDebt(
                    debt_id=r.debt_id,
                    creditor=r.creditor,
                    contract=r.contract,
                    installment=r.installment,
                    due_date=r.due_date,
                    days_overdue=v.days_overdue,
                    principal_cents=v.principal_cents,
                    penalty_cents=v.penalty_cents,
                    interest_cents=v.interest_cents,
                    correction_cents=v.correction_cents,
                    updated_value_cents=v.total_cents,
                )
                for r, v in zip(rows, values, strict=True)
            ],
            updated_value_cents=sum(v.total_cents for v in values),
            suggested_value_cents=suggested_value(quotes),
            offers=[offer_of(q) for q in quotes],
        )

    # ---- agreements ----------------------------------------------------------------------

    def close_agreement(self, request: CloseAgreement, today: dt.date) -> Any:
        fingerprint = hashlib.sha256(
            "|".join([*sorted(set(request.debt_ids)), str(request.installments)]).encode()
        ).hexdigest()

        def command() -> Any:
            agreement_uuid = agreement_id_for(request.tenant, request.idempotency_key)
            existing = self.get_or_none(Agreement, agreement_uuid)
            if existing is not None:
                if existing.request_fingerprint != fingerprint or (
                    request.document is not None and existing.document != request.document
                ):
                    raise field_refusal(
                        "Idempotency-Key",
                        "reused",
                        "esta chave de idempotência já fechou outro acordo; use uma chave nova",
                    )
                return self.agreement_out(existing, today, replayed=True)
            rows = self._negotiable(request.tenant, request.debt_ids, request.document)
            quotes, settings = self._quotes(request.tenant, rows, request.channel, today)
            chosen = next((q for q in quotes if q.installments == request.installments), None)
            if chosen is None:
                available = ", ".join(str(q.installments) for q in quotes) or "nenhuma"
                raise field_refusal(
                    "installments",
                    "no_condition",
                    f"não há condição de pagamento em {request.installments} parcela(s) para "
                    f"estas dívidas; opções: {available}",
                )
            return self._close(request, rows, chosen, settings, agreement_uuid, fingerprint, today)

        return self.retrying(command)

    def _close(
        self,
        request: CloseAgreement,
        rows: list[DebtRow],
        quote: OfferQuote,
        settings: NegotiationSettings,
        agreement_uuid: uuid.UUID,
        fingerprint: str,
        today: dt.date,
    ) -> Any:
        tenant = self.tenant_record(request.tenant)
        boleto_settings, pix = settings.boleto, settings.pix
        unset = unconfigured(settings)
        if unset:
            # Boletos and PIX codes on the placeholder account and key would send the debtor's
            # money nowhere (or to another tenant's numbers): nothing is issued until the
            # agency says where its money goes.
            raise Refused(
                409,
                "conflict",
                "a assessoria ainda não configurou onde recebe os pagamentos: "
                + "; ".join(message for _, _, message in unset),
                unset,
            )
        account = beneficiary_account(boleto_settings)
        problems = account_problems(account)
        if problems:
            # Settings saved before their bank's layout was checked: no boleto can be made.
            raise boleto_settings_refusal(problems, 409)
        try:
            numbers = tenant.allocate_nosso_numeros(
                len(quote.schedule), capacity=sequence_capacity(account)
            )
        except NossoNumerosExhausted as exc:
            exhausted = sequence_problem(account, exc.allocated, exc.wanted)
            if exhausted is None:
                raise
            raise boleto_settings_refusal([exhausted], 409) from exc
        invoices: list[dict[str, Any]] = []
        for payment, nosso in zip(quote.schedule, numbers, strict=True):
            invoice_id = invoice_id_for(agreement_uuid, payment.number)
            boleto = make_boleto(
                bank_code=boleto_settings.bank_code,
                agency=boleto_settings.agency,
                account=boleto_settings.account,
                wallet=boleto_settings.wallet,
                nosso_numero=nosso,
                amount_cents=payment.amount_cents,
                due_date=payment.due_date,
                beneficiary_code=boleto_settings.beneficiary_code,
                service_point=boleto_settings.service_point,
                issued_on=today,
            )
            txid = txid_for(invoice_id)
            invoices.append(
                {
                    "number": payment.number,
                    "kind": payment.kind,
                    "due_date": payment.due_date,
                    "amount_cents": payment.amount_cents,
                    "invoice_id": invoice_id,
                    "nosso_numero": str(nosso),
                    "nosso_numero_printed": printed_nosso_numero(account, nosso, today),
                    "barcode": boleto.barcode,
                    "digitable_line": boleto.digitable_line,
                    "pix_txid": txid,
                    "pix_code": pix_code(
                        key=pix.key,
                        merchant_name=pix.merchant_name,
                        merchant_city=pix.merchant_city,
                        amount_cents=payment.amount_cents,
                        txid=txid,
                    ),
                }
            )
        agreement = Agreement(
            tenant=request.tenant,
            idempotency_key=request.idempotency_key,
            request_fingerprint=fingerprint,
            document=rows[0].document,
            # Sealed: the agreement's events never hold the name in clear.
            personal=self.seal_debtor_name(request.tenant, rows[0].document, rows[0].debtor_name),
            legacy_debtor_name=None,
            creditor=rows[0].creditor,
            channel=request.channel,
            operator=request.operator,
            condition_id=quote.condition_id,
            condition_version=quote.condition_version,
            terms_json=quote.terms.model_dump_json(),
            closed_on=today,
            debts=[
                {
                    "debt_id": debt.debt_id,
                    "contract": debt.contract,
                    "installment": debt.installment,
                    "due_date": debt.due_date,
                    "principal_cents": value.principal_cents,
                    "penalty_cents": value.penalty_cents,
                    "interest_cents": value.interest_cents,
                    "correction_cents": value.correction_cents,
                    "updated_value_cents": value.total_cents,
                    "days_overdue": value.days_overdue,
                }
                for debt, value in quote.debts
            ],
            totals={
                "principal_cents": quote.principal_cents,
                "charges_cents": quote.charges_cents,
                "updated_value_cents": quote.updated_value_cents,
                "principal_discount_cents": quote.principal_discount_cents,
                "charges_discount_cents": quote.charges_discount_cents,
                "discount_cents": quote.discount_cents,
                "total_cents": quote.total_cents,
            },
            invoices=invoices,
            break_first_days=settings.break_first_installment_days,
            break_later_days=settings.break_later_installment_days,
        )
        assert agreement.id == agreement_uuid
        slots: list[DebtSlot] = []
        for row in rows:
            slot = self._free_slot(request.tenant, row.debt_id)
            slot.take(agreement_id=str(agreement_uuid))
            slots.append(slot)
        refs = [
            InvoiceRef(
                tenant=request.tenant,
                key=key,
                invoice_id=invoice["invoice_id"],
                agreement_id=str(agreement_uuid),
                number=invoice["number"],
            )
            for invoice in invoices
            for key in (f"invoice:{invoice['invoice_id']}", f"nosso:{invoice['nosso_numero']}")
        ]
        index = self.get_or_none(
            DebtorAgreements, debtor_agreements_id(request.tenant, agreement.document)
        ) or DebtorAgreements(tenant=request.tenant, document=agreement.document)
        index.add(agreement_id=str(agreement_uuid))
        # One transaction: the agreement, its debts taken, its invoices and debtor findable.
        self.save(agreement, tenant, index, *slots, *refs)
        return self.agreement_out(agreement, today)

    def agreement(self, request: GetAgreement) -> Agreement:
        try:
            agreement_uuid = uuid.UUID(request.agreement_id)
        except ValueError:
            agreement_uuid = None
        found = self.get_or_none(Agreement, agreement_uuid) if agreement_uuid else None
        if (
            found is None
            or found.tenant != request.tenant
            or (request.document is not None and found.document != request.document)
        ):
            raise not_found_refusal("agreement_id", f"acordo {request.agreement_id} não encontrado")
        return found

    def boleto_invoice(
        self, agreement: Agreement, invoice_id: str, today: dt.date
    ) -> dict[str, Any]:
        """The invoice whose boleto is asked for, while the boleto pays it: a paid invoice's,
        a cancelled one's (its agreement broken) and a partly paid one's (the boleto carries
        the whole amount; the PIX of the balance pays it) are refused, 409 naming `invoice`
        and the rule, whoever asks. The invoice's data stays in the agreement's answer."""
        invoice = agreement.invoice(invoice_id)
        if invoice is None:
            raise not_found_refusal("invoice_id", f"fatura {invoice_id} não encontrada")
        withheld = boleto_withheld(
            invoice_status(agreement, invoice, today),
            int(invoice["amount_cents"]),
            int(invoice["paid_cents"]),
        )
        if withheld is not None:
            raise Refused(
                409, withheld.code, withheld.message, [("invoice", withheld.rule, withheld.message)]
            )
        return invoice

    def get_agreement(self, request: GetAgreement, today: dt.date) -> Any:
        return self.agreement_out(self.agreement(request), today)

    def list_agreements(self, request: ListAgreements, today: dt.date) -> AgreementList:
        """Every agreement of the debtor (active, broken, fulfilled), newest first."""
        index = self.get_or_none(
            DebtorAgreements, debtor_agreements_id(request.tenant, request.document)
        )
        if index is None:
            return AgreementList(agreements=[])
        found: list[tuple[int, Agreement]] = []
        for order, agreement_id in enumerate(index.agreement_ids):
            agreement = self.get_or_none(Agreement, uuid.UUID(agreement_id))
            if agreement is not None:
                found.append((order, agreement))
        found.sort(key=lambda pair: (pair[1].closed_on, pair[0]), reverse=True)
        return AgreementList(agreements=[self.agreement_out(a, today) for _, a in found])

    # ---- the debt statement (demonstrativo de débito) ------------------------------------

    def _active_agreement_of(
        self, tenant: str, debt_id: str, statuses: dict[str, str]
    ) -> str | None:
        slot = self.get_or_none(DebtSlot, debt_slot_id(tenant, debt_id))
        if slot is None or slot.agreement_id is None:
            return None
        # A fulfilled agreement keeps its slots taken: only an active one counts.
        if slot.agreement_id not in statuses:
            agreement = self.get_or_none(Agreement, uuid.UUID(slot.agreement_id))
            statuses[slot.agreement_id] = agreement.status if agreement else "unknown"
        return slot.agreement_id if statuses[slot.agreement_id] == "active" else None

    def statement(self, request: GetStatement, today: dt.date) -> StatementOut:
        """Every open debt of the debtor, updated to `today` the same way offers are; those
        of an active agreement named by it. The total is of the debts in collection (not in
        an active agreement): an agreement's are paid by its installments, at what was
        agreed (the PDF shows them under their agreement, `statement_document`)."""
        rows = sorted(
            (
                r
                for r in self.debt_lookup.open_debts(request.tenant, request.document)
                if not r.settled and r.balance_cents > 0
            ),
            key=lambda r: (creditor_key(r.creditor), r.due_date, r.contract, r.installment),
        )
        settings = self.settings_of(request.tenant)
        statuses: dict[str, str] = {}
        debts: list[StatementDebt] = []
        for r in rows:
            v = updated_value(
                r.balance_cents,
                r.due_date,
                today,
                self.charges_for(settings, r.creditor, r.document),
            )
            debts.append(
                StatementDebt(
                    debt_id=r.debt_id,
                    creditor=r.creditor,
                    contract=r.contract,
                    installment=r.installment,
                    due_date=r.due_date,
                    days_overdue=v.days_overdue,
                    principal_cents=v.principal_cents,
                    penalty_cents=v.penalty_cents,
                    interest_cents=v.interest_cents,
                    correction_cents=v.correction_cents,
                    updated_value_cents=v.total_cents,
                    agreement_id=self._active_agreement_of(request.tenant, r.debt_id, statuses),
                )
            )
        return StatementOut(
            as_of=today,
            tenant=request.tenant,
            document=request.document,
            debtor_name=rows[0].debtor_name if rows else None,
            debts=debts,
            # The debts in collection: an active agreement's are paid by its installments.
            total_updated_cents=sum(d.updated_value_cents for d in debts if d.agreement_id is None),
        )

    # ---- payments ------------------------------------------------------------------------

    def _find_invoice(self, tenant: str, report: PaymentReport) -> InvoiceRef | None:
        keys = []
        if report.invoice_id:
            keys.append(f"invoice:{report.invoice_id}")
        if report.nosso_numero:
            keys.append(f"nosso:{int(report.nosso_numero)}")
        for key in keys:
            ref = self.get_or_none(InvoiceRef, invoice_ref_id(tenant, key))
            if ref is not None:
                return ref
        return None

    def _same_payment(
        self, agreement: Agreement, invoice_id: str, report: PaymentReport, source: str
    ) -> Payment | None:
        """The payment already applied to this invoice that `report` (from `source`) is
        another report of, or None when it is a payment of its own.

        Same invoice, amount and date is the same payment, whichever door brought it first
        (the bank's return or the API), unless the door that brings it now has already
        reported that one with another reference of its own: two references of one door
        (two bank liquidations, two PIX end-to-end ids) are two payments. A report without a
        reference cannot be told apart from any of them: it is the first."""
        invoice = agreement.invoice(invoice_id)
        if invoice is None:
            return None
        candidates = [
            payment
            for payment in (
                self.get_or_none(Payment, uuid.UUID(payment_id))
                for payment_id in invoice["payment_ids"]
            )
            if payment is not None
            and (payment.amount_cents, payment.paid_on) == (report.amount_cents, report.paid_on)
        ]
        reported = (source, report.reference)
        for payment in candidates:
            if reported in payment.reports:
                return payment
        if report.reference is None:
            return candidates[0] if candidates else None
        for payment in candidates:
            if not any(s == source and r is not None for s, r in payment.reports):
                return payment
        return None

    def _held_debts(self, agreement: Agreement) -> tuple[set[str], dict[str, int]]:
        """The debts of a broken agreement that a payment to it can no longer be deducted
        from: settled or withdrawn by the creditor (as the debts' view says, or unknown to
        it), or held by another agreement since (active, or fulfilled: it settled them); and
        what each of the others owes now as the view says (the creditor's newest amount, which
        a re-import may have lowered since the break, less what was paid on it)."""
        rows = {r.debt_id: r for r in self.debt_lookup.debts(agreement.tenant, agreement.debt_ids)}
        owed = {debt_id: row.balance_cents for debt_id, row in rows.items()}
        held: set[str] = set()
        for debt_id in agreement.debt_ids:
            row = rows.get(debt_id)
            slot = self.get_or_none(DebtSlot, debt_slot_id(agreement.tenant, debt_id))
            if (
                row is None
                or row.settled
                or (slot is not None and slot.agreement_id not in (None, str(agreement.id)))
            ):
                held.add(debt_id)
        return held, owed

    def record_payment(
        self,
        tenant: str,
        report: PaymentReport,
        source: str,
        payment_key: str | None = None,
        *,
        today: dt.date,
        bank_code: str | None = None,
    ) -> PaymentOut:
        """Apply a payment once: the same payment reported again answers what it did the
        first time. A payment that matches nothing is kept, with the reason. A payment dated
        after `today` (the business clock's) is refused and nothing is kept: it cannot have
        been paid yet; so is one of an invoice dated before its agreement was closed (the
        invoice did not exist). A payment a bank reports (`bank_code`, its return file) pays
        only an invoice whose boleto that bank issued: the same number at another bank is
        another boleto."""
        if report.paid_on > today:
            raise field_refusal(
                "paid_on",
                "not_in_future",
                f"data de pagamento {_dmy(report.paid_on)} está no futuro: hoje é {_dmy(today)}",
            )
        if payment_key is None:
            payment_key = (
                f"ref:{report.reference}"
                if report.reference
                else f"inv:{report.invoice_id or ''}|nn:{report.nosso_numero or ''}|"
                f"{report.amount_cents}|{report.paid_on.isoformat()}"
            )
        reference = report.reference or payment_key

        def command() -> PaymentOut:
            existing = self.get_or_none(Payment, payment_aggregate_id(tenant, payment_key))
            if existing is not None:
                return payment_out(existing, duplicate=True)
            ref = self._find_invoice(tenant, report)
            agreement = (
                self.get_or_none(Agreement, uuid.UUID(ref.agreement_id))
                if ref is not None
                else None
            )
            if (
                bank_code is not None
                and agreement is not None
                and ref is not None
                and issuing_bank(agreement.invoice(ref.invoice_id)) != bank_code
            ):
                ref, agreement = None, None
            if agreement is not None and report.paid_on < agreement.closed_on:
                raise field_refusal(
                    "paid_on",
                    "before_agreement",
                    before_agreement_problem(report.paid_on, agreement.closed_on),
                )
            if agreement is not None and ref is not None:
                same = self._same_payment(agreement, ref.invoice_id, report, source)
                if same is not None:
                    same.report_again(source=source, reference=report.reference)
                    self.save(same)
                    return payment_out(same, duplicate=True)
            to_save: list[Aggregate] = []
            if ref is None or agreement is None:
                what = (
                    f"fatura {report.invoice_id}"
                    if report.invoice_id
                    else f"nosso número {report.nosso_numero}"
                )
                if bank_code is not None:
                    what += f" em boleto do banco {_bank(bank_code)}"
                outcome: dict[str, Any] = {
                    "outcome": "unmatched",
                    "applied_cents": 0,
                    "balance_cents": 0,
                    "credit_cents": 0,
                    "reason": f"nenhuma parcela encontrada para {what}; pagamento guardado "
                    "para conciliação",
                }
            else:
                held, owed_now = (
                    self._held_debts(agreement) if agreement.status == "broken" else (set(), None)
                )
                outcome = agreement.apply_payment(
                    payment_id=str(payment_aggregate_id(tenant, payment_key)),
                    invoice_id=ref.invoice_id,
                    amount_cents=report.amount_cents,
                    paid_on=report.paid_on,
                    held=held,
                    owed_now=owed_now,
                    end_rule=self._broken_rule(agreement),
                )
                to_save.append(agreement)
            invoice = agreement.invoice(ref.invoice_id) if agreement and ref else None
            payment = Payment(
                tenant=tenant,
                payment_key=payment_key,
                source=source,
                reference=reference,
                invoice_id=ref.invoice_id if ref else report.invoice_id,
                nosso_numero=(invoice["nosso_numero"] if invoice else report.nosso_numero),
                agreement_id=ref.agreement_id if ref else None,
                document=agreement.document if agreement else None,
                installment_number=ref.number if ref else None,
                amount_cents=report.amount_cents,
                paid_on=report.paid_on,
                **outcome,
            )
            self.save(payment, *to_save)
            return payment_out(payment, duplicate=False)

        return self.retrying(command)

    def issuing_accounts(self, tenant: str) -> list[BeneficiaryAccount]:
        """The boleto accounts the tenant's boletos were issued with, the current one first
        (even before it issued any), then those it issued with before (latest first): the
        settings in force at each allocation of nosso números, from the tenant's stored
        events (every one of them: a snapshot does not keep the history)."""
        current = beneficiary_account(self.settings_of(tenant).boleto)
        accounts = [current]
        for settings_json in issuing_settings(self.events.get(tenant_aggregate_id(tenant))):
            issuer = beneficiary_account(
                NegotiationSettings.model_validate_json(settings_json).boleto
            )
            if issuer not in accounts:
                accounts.append(issuer)
        return accounts

    def import_cnab240(self, request: ImportCnab240, today: dt.date) -> Cnab240Out:
        """Apply each liquidation of a bank's return file; what is not applied is said in
        `skipped`, one line each. A liquidation dated after `today` (the business clock's:
        its date of payment or of credit) is not applied: the same file sent again from that
        day on applies it. A file of another bank than the tenant's boletos, or not whole as
        the bank wrote it (`return_file_refusal`), is refused and nothing of it applied. A
        file of a bank the tenant issued boletos with before (it changed banks since) is read
        as that bank wrote them, and pays only those boletos."""
        try:
            parsed = parse_cnab240(request.content)
        except NotACnab240File as exc:
            raise field_refusal("body", "not_cnab240", str(exc)) from exc
        account = beneficiary_account(self.settings_of(request.tenant).boleto)
        # The tenant's former banks: their boletos are still paid there, and their return
        # files keep coming (read from the tenant's history only for a file of another bank).
        issuers = (
            [account]
            if parsed.bank_code == account.bank_code
            else self.issuing_accounts(request.tenant)
        )
        refusal = return_file_refusal(
            parsed, account.bank_code, [issuer.bank_code for issuer in issuers]
        )
        if refusal is not None:
            raise refusal
        accounts = [issuer for issuer in issuers if issuer.bank_code == parsed.bank_code]
        payments: list[PaymentOut] = []
        skipped = list(parsed.problems)
        for movement in parsed.movements:
            if not movement.is_liquidation:
                skipped.append(
                    f"nosso número {movement.nosso_numero}: movimento {movement.movement_code} "
                    "não é liquidação; nada a aplicar"
                )
                continue
            paid_on = movement.occurrence_date or movement.credit_date
            if paid_on is None or movement.paid_amount_cents <= 0:
                skipped.append(
                    f"nosso número {movement.nosso_numero}: liquidação sem data ou valor pago"
                )
                continue
            future = future_date_problem(movement.occurrence_date, movement.credit_date, today)
            if future is not None:
                skipped.append(
                    f"linha {movement.line}: nosso número {movement.nosso_numero}: {future}"
                )
                continue
            # The bank writes its own nosso número (convênio, carteira, check digit), as the
            # tenant's account there issued it; a field not in the bank's layout is read as
            # digits.
            ours = next(
                (
                    number
                    for number in (
                        nosso_numero_from_segment_t(issuer, movement.nosso_numero_raw)
                        for issuer in accounts
                    )
                    if number
                ),
                None,
            )
            try:
                report = PaymentReport(
                    nosso_numero=str(ours) if ours else movement.nosso_numero or "0",
                    amount_cents=movement.paid_amount_cents,
                    paid_on=paid_on,
                    reference=f"cnab240:{parsed.bank_code}:{movement.nosso_numero_raw.strip()}:"
                    f"{paid_on.isoformat()}:{movement.paid_amount_cents}",
                )
            except ValidationError as exc:
                skipped.append(f"nosso número {movement.nosso_numero}: {exc.errors()[0]['msg']}")
                continue
            try:
                payment = self.record_payment(
                    request.tenant,
                    report,
                    source="cnab240",
                    today=today,
                    bank_code=parsed.bank_code,
                )
            except Refused as refused:
                if [rule for _, rule, _ in refused.details] != ["before_agreement"]:
                    raise
                skipped.append(
                    f"linha {movement.line}: nosso número {movement.nosso_numero}: "
                    f"{refused.message}: não aplicado"
                )
                continue
            payments.append(payment)
        return Cnab240Out(
            filename=request.filename,
            bank_code=parsed.bank_code,
            records=len(parsed.movements),
            payments=payments,
            skipped=skipped,
        )

    # ---- the daily run -------------------------------------------------------------------

    def active_agreement_ids(self) -> list[uuid.UUID]:
        """Agreements closed and not yet ended, from the notification log (no index to keep
        in step: the store is the index)."""
        closed = get_topic(Agreement.Closed)  # type: ignore[attr-defined]
        ended = {
            get_topic(Agreement.Broken),  # type: ignore[attr-defined]
            get_topic(Agreement.Fulfilled),  # type: ignore[attr-defined]
        }
        active: dict[uuid.UUID, None] = {}
        start = 1
        while True:
            page = self.recorder.select_notifications(start, 1000, topics=[closed, *sorted(ended)])
            if not page:
                break
            for notification in page:
                if notification.topic == closed:
                    active[notification.originator_id] = None  # type: ignore[index]
                else:
                    active.pop(notification.originator_id, None)  # type: ignore[arg-type]
            start = page[-1].id + 1
        return list(active)

    def run_day(self, today: dt.date) -> int:
        """The business day's run over every active agreement. Returns how many changed."""
        changed = 0
        for agreement_id in self.active_agreement_ids():

            def command(agreement_id: uuid.UUID = agreement_id) -> bool:
                agreement = self.get_or_none(Agreement, agreement_id)
                if agreement is None:
                    return False
                before = agreement.version
                agreement.run_day(today)
                if agreement.version == before:
                    return False
                to_save: list[Aggregate] = [agreement]
                if agreement.status == "broken":
                    to_save.extend(self._released(agreement, reason="broken"))
                self.save(*to_save)
                return True

            if self.retrying(command):
                changed += 1
        return changed

    # ---- the creditor withdraws a debt --------------------------------------------------

    def debts_withdrawn(self, withdrawals: Sequence[DebtWithdrawn]) -> int:
        """The creditor withdrew debts (`DebtWithdrawn`, read from `portfolio.debts`): an
        active agreement holding one ends (`Agreement.end_by_withdrawal`), its unpaid invoices
        cancelled as on a break, and every debt of it is free again (the others go back to
        collection; a withdrawn one is not negotiable: the debts' view says so). Debts of one
        agreement withdrawn together end it once, naming them all, and so do those the
        debts' view already knows withdrawn. Returns how many agreements ended; a withdrawal
        read again changes nothing (the agreement is no longer active)."""
        ended: dict[tuple[str, str], tuple[dict[str, None], dt.date]] = {}
        for withdrawal in withdrawals:
            slot = self.get_or_none(DebtSlot, debt_slot_id(withdrawal.tenant, withdrawal.debt_id))
            if slot is None or slot.agreement_id is None:
                continue
            key = (withdrawal.tenant, slot.agreement_id)
            ids, on = ended.get(key, ({}, withdrawal.withdrawn_on))
            ids[withdrawal.debt_id] = None
            ended[key] = (ids, max(on, withdrawal.withdrawn_on))
        count = 0
        for (tenant, agreement_id), (ids, on) in ended.items():

            def command(
                tenant: str = tenant,
                agreement_id: str = agreement_id,
                ids: dict[str, None] = ids,
                on: dt.date = on,
            ) -> bool:
                agreement = self.get_or_none(Agreement, uuid.UUID(agreement_id))
                if agreement is None or agreement.tenant != tenant:
                    return False
                # Withdrawn earlier, the view knows it (a debt of an active agreement is settled
                # in the view only when the creditor withdrew it).
                known = {
                    r.debt_id
                    for r in self.debt_lookup.debts(tenant, agreement.debt_ids)
                    if r.settled
                }
                if not agreement.end_by_withdrawal({*ids, *known}, on):
                    return False
                self.save(agreement, *self._released(agreement, reason="debt_withdrawn"))
                return True

            if self.retrying(command):
                count += 1
        return count

    # ---- the creditor lowers a debt's amount ---------------------------------------------

    def debts_lowered(self, updates: Sequence[DebtUpdated | DebtUpdatedV2], today: dt.date) -> int:
        """The creditor's re-import lowered debts' original amount (`DebtUpdated`, read from
        `portfolio.debts`): an active agreement holding one that now owes less than the
        agreement charges as its principal ends (`Agreement.end_by_lowering`, rule
        `debt_amount_lowered`), on `today` (the business clock's), its unpaid invoices
        cancelled, and every debt of it is free again to be negotiated on the creditor's new
        figure. What a debt owes is the creditor's newest amount (this update's, or a newer
        one the debts' view already holds) less what was paid on it before (the view's). A
        raised amount, or a change of other fields, changes no agreement: the debtor signed its
        terms. Returns how many agreements ended; an update read again changes nothing (the
        agreement is no longer active, or was closed on the new figure)."""
        lowered: dict[tuple[str, str], dict[str, DebtUpdated | DebtUpdatedV2]] = {}
        for update in updates:
            change = next((c for c in update.changes if c.field == "original_amount_cents"), None)
            if change is None or not isinstance(change.old, int) or not isinstance(change.new, int):
                continue
            if change.new >= change.old:
                continue
            slot = self.get_or_none(DebtSlot, debt_slot_id(update.tenant, update.debt_id))
            if slot is None or slot.agreement_id is None:
                continue
            lowered.setdefault((update.tenant, slot.agreement_id), {})[update.debt_id] = update
        count = 0
        for (tenant, agreement_id), by_debt in lowered.items():

            def command(
                tenant: str = tenant,
                agreement_id: str = agreement_id,
                by_debt: dict[str, DebtUpdated | DebtUpdatedV2] = by_debt,
            ) -> bool:
                agreement = self.get_or_none(Agreement, uuid.UUID(agreement_id))
                if agreement is None or agreement.tenant != tenant:
                    return False
                rows = {r.debt_id: r for r in self.debt_lookup.debts(tenant, list(by_debt))}
                debts = []
                for debt_id, update in by_debt.items():
                    row = rows.get(debt_id)
                    amount = update.original_amount_cents
                    if row is not None and row.version > update.aggregate_version:
                        amount = row.original_amount_cents  # a newer row of the creditor's
                    change = next(c for c in update.changes if c.field == "original_amount_cents")
                    debts.append(
                        {
                            "debt_id": debt_id,
                            "contract": update.contract,
                            "installment": update.installment,
                            "old_amount_cents": change.old,
                            "new_amount_cents": amount,
                            "owed_cents": max(0, amount - (row.paid_cents if row else 0)),
                            "import_id": update.import_id,
                            "row_key": update.row_key,
                        }
                    )
                if not agreement.end_by_lowering(debts, today):
                    return False
                self.save(agreement, *self._released(agreement, reason="debt_amount_lowered"))
                return True

            if self.retrying(command):
                count += 1
        return count

    def _released(self, agreement: Agreement, reason: str) -> list[DebtSlot]:
        """The slots of the agreement's debts, released (those it still holds)."""
        released = []
        for debt_id in agreement.debt_ids:
            slot = self.get_or_none(DebtSlot, debt_slot_id(agreement.tenant, debt_id))
            if slot is not None and slot.agreement_id == str(agreement.id):
                slot.release(agreement_id=str(agreement.id), reason=reason)
                released.append(slot)
        return released


def _dmy(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def future_date_problem(
    paid_on: dt.date | None, credited_on: dt.date | None, today: dt.date
) -> str | None:
    """Why a bank's liquidation cannot be applied on `today` (pt-BR), None when it can: a
    date of payment or of credit after today is money not received yet."""
    for what, day in (("pagamento", paid_on), ("crédito", credited_on)):
        if day is not None and day > today:
            return (
                f"data de {what} {_dmy(day)} está no futuro (hoje é {_dmy(today)}): "
                "não aplicado; envie o arquivo de novo a partir dessa data"
            )
    return None


# At most this many ids are named in a message; the rest are counted.
NAMED_IDS = 3


# Whole-file refusals list this many lines at most: a file cut short says so in one or two.
MAX_DEFECTS_NAMED = 20


def issuing_bank(invoice: dict[str, Any] | None) -> str | None:
    """The bank that issued the invoice's boleto: its barcode's first three digits."""
    barcode = str((invoice or {}).get("barcode") or "")
    return barcode[:3] or None


def _bank(code: str) -> str:
    name = SUPPORTED_BANKS.get(code)
    return f"{code} ({name})" if name else code


def return_file_refusal(
    parsed: Cnab240File, tenant_bank: str, issuing_banks: Sequence[str] = ()
) -> Refused | None:
    """Why nothing of a return file is applied, or None: it must be of the bank the tenant
    issues its boletos with, or of one that issued its boletos before (`issuing_banks`: the
    tenant changed banks; those boletos are still paid there), not of a bank that never
    issued any (another bank's nosso números are other boletos, whatever their digits), and
    whole as the bank wrote it (a file cut short or edited is applied by no part: the same
    file whole applies it all)."""
    banks = f"do banco {_bank(tenant_bank)}"
    former = [bank for bank in dict.fromkeys(issuing_banks) if bank != tenant_bank]
    if former:
        banks += " (antes, também " + ", ".join(f"do {_bank(bank)}" for bank in former) + ")"
    if parsed.bank_code not in SUPPORTED_BANKS:
        message = (
            f"código do banco '{parsed.bank_code}' (posições 1-3 do header) não é de um banco "
            f"conhecido; os boletos da assessoria são {banks}: nada foi aplicado"
        )
        return Refused(422, "validation_failed", message, [("bank_code", "unknown_bank", message)])
    if parsed.bank_code != tenant_bank and parsed.bank_code not in issuing_banks:
        message = (
            f"arquivo de retorno do banco {_bank(parsed.bank_code)}, mas os boletos da "
            f"assessoria são {banks}: nada foi aplicado"
        )
        return Refused(422, "validation_failed", message, [("bank_code", "other_bank", message)])
    if not parsed.defects:
        return None
    details = [
        ("file", defect.rule, f"linha {defect.line}: {defect.message}")
        for defect in parsed.defects[:MAX_DEFECTS_NAMED]
    ]
    others = len(parsed.defects) - 1
    message = (
        "o arquivo de retorno não está inteiro como o banco o gerou (cortado ou alterado); "
        f"nada foi aplicado: {details[0][2]}"
        + (f" (e mais {others} problema(s) no arquivo)" if others else "")
    )
    return Refused(422, "validation_failed", message, details)


def not_found_message(missing: list[str]) -> str:
    """'dívida não encontrada: d-1' or '5 dívidas não encontradas: d-1, d-2, d-3 e mais 2':
    a few ids named, however many were sent."""
    if len(missing) == 1:
        return f"dívida não encontrada: {missing[0]}"
    named = ", ".join(missing[:NAMED_IDS])
    more = len(missing) - NAMED_IDS
    if more <= 0:
        named = f"{', '.join(missing[:-1])} e {missing[-1]}"
    else:
        named += f" e mais {more}"
    return f"{len(missing)} dívidas não encontradas: {named}"


def before_agreement_problem(paid_on: dt.date, closed_on: dt.date) -> str:
    """Why a payment of an invoice dated before its agreement was closed is not applied
    (pt-BR): the invoice was issued by the agreement, so it cannot have been paid before."""
    return (
        f"data de pagamento {_dmy(paid_on)} é anterior ao acordo que emitiu a fatura, "
        f"fechado em {_dmy(closed_on)}"
    )


def offer_of(quote: OfferQuote) -> Offer:
    return Offer(
        condition_id=quote.condition_id,
        description=quote.terms.description
        or (f"{quote.installments}x" if quote.installments > 1 else "À vista"),
        installments=quote.installments,
        principal_cents=quote.principal_cents,
        charges_cents=quote.charges_cents,
        updated_value_cents=quote.updated_value_cents,
        principal_discount_cents=quote.principal_discount_cents,
        charges_discount_cents=quote.charges_discount_cents,
        discount_cents=quote.discount_cents,
        total_cents=quote.total_cents,
        down_payment_cents=quote.down_payment_cents,
        schedule=[
            ScheduledInstallment(
                number=p.number, kind=p.kind, due_date=p.due_date, amount_cents=p.amount_cents
            )
            for p in quote.schedule
        ],
    )


def beneficiary_account(settings: BoletoSettings) -> BeneficiaryAccount:
    return BeneficiaryAccount(
        bank_code=settings.bank_code,
        agency=settings.agency,
        account=settings.account,
        wallet=settings.wallet,
        beneficiary_code=settings.beneficiary_code,
        service_point=settings.service_point,
    )


def unconfigured(settings: NegotiationSettings) -> list[tuple[str, str, str]]:
    """(field, rule, pt-BR message) of what a tenant must configure before it issues boletos
    and PIX codes (PUT /api/v1/admin/negotiation-settings): the beneficiary's CPF/CNPJ, printed
    on every boleto, and its own PIX key (not the placeholder every tenant starts with)."""
    found: list[tuple[str, str, str]] = []
    if not settings.boleto.beneficiary_document:
        found.append(
            (
                "boleto.beneficiary_document",
                "not_configured",
                "informe o CNPJ (ou CPF) do beneficiário dos boletos em "
                "PUT /api/v1/admin/negotiation-settings",
            )
        )
    if settings.pix.key == PixSettings().key:
        found.append(
            (
                "pix.key",
                "not_configured",
                "informe a chave PIX da assessoria em PUT /api/v1/admin/negotiation-settings",
            )
        )
    return found


def document_and_key_problems(settings: NegotiationSettings) -> list[tuple[str, str, str]]:
    """(field, rule, pt-BR message) of the beneficiary's CPF/CNPJ (printed on every boleto;
    empty: not printed) and of the PIX key (in every PIX code), checked by their kind."""
    found: list[tuple[str, str, str]] = []
    if settings.boleto.beneficiary_document:
        try:
            validate_document(settings.boleto.beneficiary_document)
        except InvalidDocument as exc:
            found.append(("boleto.beneficiary_document", exc.rule, exc.reason))
    if (key := pix_key_problem(settings.pix.key)) is not None:
        found.append(("pix.key", key.rule, key.message))
    return found


def penalty_problems(settings: NegotiationSettings) -> list[tuple[str, str, str]]:
    """(field, rule, pt-BR message) of each multa above what a consumer may be charged (CDC
    art. 52 §1: 2%). The settings do not tell consumers' debts from companies': every
    creditor's debts may be a consumer's, so none may hold more."""
    found: list[tuple[str, str, str]] = []
    named = [("charges", settings.charges)] + [
        (f"creditor_charges.{name}", charges) for name, charges in settings.creditor_charges.items()
    ]
    for where, charges in named:
        if charges.penalty_pct > CONSUMER_PENALTY_CAP_PCT:
            found.append(
                (
                    f"{where}.penalty_pct",
                    "penalty_above_legal_cap",
                    f"multa de {str(charges.penalty_pct).replace('.', ',')}% acima do limite "
                    "de 2% para dívidas de consumidor (CDC, art. 52, § 1º)",
                )
            )
    return found


def boleto_settings_refusal(problems: list[AccountProblem], status: int) -> Refused:
    """The boleto settings' problems, each naming its field ("boleto.bank_code")."""
    return Refused(
        status,
        "validation_failed" if status == 422 else "conflict",
        "configurações de boleto inválidas: " + "; ".join(p.message for p in problems),
        [(f"boleto.{p.field}", p.rule, p.message) for p in problems],
    )
