"""Use cases of the debtor portal, one path for the pages (/p/{tenant}) and the JSON API
(/api/v1/portal/{tenant}/...): a document's eligible debts and agreements (and the short-lived
portal token), offers and closing refused for debts the tenant's portal list leaves out, the
debtor's agreement and its PDFs, the contact a debtor leaves, and the tenant's portal profile.

The negotiation service decides offers and agreements; the portal list decides which debts a
debtor may see and negotiate here (days overdue from the business clock)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict

from anyio import to_thread
from sqlalchemy import Engine

from contracts.brcode import pix_for_balance
from contracts.documents import DocumentKind, document_kind, validate_document
from contracts.envelope import TENANT_NAME
from contracts.invoices import PAYABLE_STATUSES, boleto_withheld, partly_paid
from contracts.messaging_requests import (
    AccessCodeOut,
    BirthDateTriesOut,
    BirthDateTry,
    SendAccessCode,
)
from contracts.negotiation import Channel
from contracts.negotiation_requests import (
    AgreementOut,
    CloseAgreement,
    GetAgreement,
    GetDocument,
    GetOffers,
    InvoiceOut,
    OffersOut,
)
from service_runtime.clock import BusinessClock
from service_runtime.eventstore import ServiceApplication
from service_runtime.personal_data import KeyVault, seal
from service_runtime.service_client import ServiceClient, ServiceRefused
from services.gateway.adapters.tokens import issue_token
from services.gateway.domain.portal_challenge import (
    BIRTH_DATE,
    MAX_ATTEMPTS,
    PortalChallenge,
    birth_date_challenge_id,
    issue_birth_date,
    mask_name,
    new_code,
    parse_birth_date,
)
from services.gateway.domain.portal_challenge import issue as issue_challenge
from services.gateway.domain.portal_contact import ContactDetails, PortalContact
from services.gateway.domain.portal_list import ListedDebt, PortalList, days_overdue, exclusion
from services.gateway.domain.portal_profile import (
    PORTAL_DIRECTORY_ID,
    Logo,
    PortalDirectory,
    TenantPortal,
    tenant_portal_id,
)
from services.gateway.read_models import portal_queries, portal_view

CODE_MESSAGES = {
    "mismatch": "código incorreto; restam {left} tentativa(s)",
    "exhausted": "tentativas esgotadas: consulte o documento de novo para receber outro código",
    "expired": "código expirado: consulte o documento de novo para receber outro código",
    "used": "este código já foi usado: consulte o documento de novo",
    "not_found": "código não encontrado: consulte o documento de novo",
}
# The date's refusals; `{label}`: "data de nascimento", or "data de abertura" for a CNPJ.
DATE_MESSAGES = {
    "mismatch": "{label} não confere; restam {left} tentativa(s) hoje",
    "exhausted": "muitas tentativas; tente novamente amanhã ou fale com a assessoria",
    "expired": "a verificação era de outro dia: consulte o documento de novo",
    "not_found": "verificação não encontrada: consulte o documento de novo",
}


# What a tenant in a portal's address may be (the pages' PAGE_TENANT, the API's too): a name
# outside it has no portal, and is not looked for.
PORTAL_TENANT = TENANT_NAME


class KnownPortals:
    """Which tenants have a portal, remembered briefly: the debtor's doors (lookup, web chat)
    ask on every request, and a portal, once there, stays. A tenant without one is remembered
    for less (its first carteira may be on its way) and the memory is bounded, so names
    made up by the thousand cost one query each at most every `absent_seconds`."""

    def __init__(
        self,
        found_seconds: float = 300.0,
        absent_seconds: float = 5.0,
        max_tenants: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.found_seconds = found_seconds
        self.absent_seconds = absent_seconds
        self.max_tenants = max_tenants
        self.clock = clock
        self._known: dict[str, tuple[bool, float]] = {}

    def get(self, tenant: str) -> bool | None:
        """True or False while remembered; None when it must be asked."""
        found = self._known.get(tenant)
        if found is None:
            return None
        exists, until = found
        if self.clock() >= until:
            del self._known[tenant]
            return None
        return exists

    def remember(self, tenant: str, exists: bool) -> None:
        now = self.clock()
        if tenant not in self._known and len(self._known) >= self.max_tenants:
            for name in [n for n, (_, until) in self._known.items() if until <= now]:
                del self._known[name]
            while len(self._known) >= self.max_tenants:
                del self._known[next(iter(self._known))]  # the oldest remembered
        self._known.pop(tenant, None)
        self._known[tenant] = (
            exists,
            now + (self.found_seconds if exists else self.absent_seconds),
        )

    def forget(self, tenant: str) -> None:
        self._known.pop(tenant, None)


@dataclass(frozen=True)
class EligibleDebt:
    debt_id: str
    creditor: str
    contract: str
    installment: str
    category: str | None
    original_amount_cents: int
    # Paid under agreements that broke, deducted: the balance is the original less this.
    paid_cents: int
    balance_cents: int
    due_date: dt.date
    days_overdue: int


@dataclass(frozen=True)
class DebtorView:
    """What a debtor sees: the eligible debts (oldest first) and the agreements already made,
    newest first, each with its invoices (rows of the portal view)."""

    tenant: str
    document: str
    document_kind: DocumentKind
    debtor_name: str | None
    debts: list[EligibleDebt]
    agreements: list[dict[str, Any]]


@dataclass(frozen=True)
class InvoicePayment:
    """Where an invoice's payment stands, as the portal shows it on its pages and in its API:
    paid, partly paid (its PIX then asks for the balance, txid kept; its boleto, registered at
    the bank with the whole amount, no longer pays it), or to pay with either. The boleto's
    rule is the negotiation service's (contracts.invoices), which refuses the PDF itself."""

    status: str
    amount_cents: int
    paid_cents: int
    balance_cents: int

    @classmethod
    def of(cls, invoice: InvoiceOut) -> InvoicePayment:
        return cls(invoice.status, invoice.amount_cents, invoice.paid_cents, invoice.balance_cents)

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> InvoicePayment:
        """An invoice of the portal view (no balance kept: what its payments left)."""
        amount, paid = int(row["amount_cents"]), int(row["paid_cents"])
        return cls(str(row["status"]), amount, paid, max(0, amount - paid))

    @property
    def payable(self) -> bool:
        return self.status in PAYABLE_STATUSES

    @property
    def paid(self) -> bool:
        return self.status == "paid"

    @property
    def partly_paid(self) -> bool:
        """Still to pay, part of it paid: the balance is less than the amount."""
        return partly_paid(self.status, self.amount_cents, self.paid_cents)

    @property
    def boleto_payable(self) -> bool:
        """The boleto pays this invoice: still to be paid, and nothing of it paid yet."""
        return boleto_withheld(self.status, self.amount_cents, self.paid_cents) is None

    def pix_code(self, issued: str) -> str:
        """The PIX to pay it with: the issued code, or after a partial payment the same code
        asking for the balance."""
        return pix_for_balance(issued, self.balance_cents) if self.partly_paid else issued

    def means(
        self, *, digitable_line: str, barcode: str, pix_code: str, pdf_url: str
    ) -> PaymentMeans:
        """What of the invoice's boleto and PIX still pays it, as every API answers it: the
        boleto while it pays the whole invoice, the PIX (for the balance) while anything is
        to pay; None for the others, so that nobody pays a paid or cancelled invoice."""
        boleto = self.boleto_payable
        return PaymentMeans(
            digitable_line=digitable_line if boleto else None,
            barcode=barcode if boleto else None,
            pix_code=self.pix_code(pix_code) if self.payable else None,
            pdf_url=pdf_url if boleto else None,
        )


class PaymentMeans(TypedDict):
    digitable_line: str | None
    barcode: str | None
    pix_code: str | None
    pdf_url: str | None


# What a debtor reads when the negotiation service withholds a boleto (a link kept from
# before, on the portal or from the chat), by its rule (contracts.invoices.WITHHELD_RULES).
NO_BOLETO_PAGES: dict[str, tuple[str, str]] = {
    "paid": ("Parcela paga", "Esta parcela já está paga: o boleto não vale mais."),
    "cancelled": ("Parcela cancelada", "Esta parcela foi cancelada com o acordo."),
    "partly_paid": (
        "Boleto indisponível",
        "Esta parcela já foi paga em parte, e o boleto tem o valor integral. Pague o saldo com "
        "o PIX da parcela.",
    ),
}


def boleto_withheld_rule(refused: ServiceRefused) -> str | None:
    """The rule when the negotiation service refused a boleto that no longer pays its invoice
    (409 naming `invoice`): paid, cancelled or partly_paid; None for any other refusal."""
    if refused.error.status != 409:
        return None
    return next(
        (
            d.rule
            for d in refused.error.details
            if d.field == "invoice" and d.rule in NO_BOLETO_PAGES
        ),
        None,
    )


@dataclass(frozen=True)
class PortalLookup:
    view: DebtorView
    token: str
    token_expires_at: dt.datetime


@dataclass(frozen=True)
class PortalProfile:
    tenant: str
    name: str | None
    portal_list: PortalList
    logo_sha256: str | None
    second_factor: str = "none"
    code_channels: tuple[str, ...] = ("sms", "email")


@dataclass(frozen=True)
class PendingLookup:
    """The tenant asks for a second factor: a code went to the debtor (`method` "code"), or
    the date of birth is asked ("birth_date": no channel nor destination); values come after
    it. `attempts_left`: wrong answers still allowed (for a date, today)."""

    tenant: str
    document: str
    masked_name: str | None
    challenge_id: str
    channel: str | None
    destination: str | None
    expires_at: dt.datetime
    method: str = "code"
    attempts_left: int = MAX_ATTEMPTS


class CodeUnavailable(Exception):
    """No phone or e-mail to send the code to (said the same for unknown documents)."""


class BirthDateUnavailable(Exception):
    """No date of birth in the carteira for the document (said the same for unknown
    documents), or the debtor's data was erased since."""


def date_label(document: str) -> str:
    """How the pages and messages name the date: a company's is its opening date."""
    return "data de abertura" if document_kind(document) == "cnpj" else "data de nascimento"


class CodeRefused(Exception):
    """`rule`: mismatch (with tries left), expired, exhausted, used, not_found."""

    def __init__(self, rule: str, message: str, attempts_left: int = 0) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.attempts_left = attempts_left


class NotEligible(Exception):
    """Debts the tenant's portal list leaves out (or that are not the debtor's)."""

    def __init__(self, debt_ids: list[str]) -> None:
        super().__init__(", ".join(debt_ids))
        self.debt_ids = debt_ids


def _listed(row: dict[str, Any]) -> ListedDebt:
    return ListedDebt(
        creditor=row["creditor"],
        category=row.get("category"),
        amount_cents=row["balance_cents"],
        due_date=portal_view.due_date_of(row),
    )


def _profile_of(portal: TenantPortal | None, tenant: str) -> PortalProfile:
    if portal is None:
        return PortalProfile(tenant=tenant, name=None, portal_list=PortalList(), logo_sha256=None)
    return PortalProfile(
        tenant=tenant,
        name=portal.name,
        portal_list=portal.portal_list,
        logo_sha256=portal.logo_sha256,
        second_factor=portal.second_factor,
        code_channels=tuple(portal.code_channels),
    )


class PortalService:
    def __init__(
        self,
        *,
        app: ServiceApplication,
        read_engine: Engine,
        clock: BusinessClock,
        negotiation: ServiceClient,
        signing_key: str,
        token_ttl: dt.timedelta,
        vault: KeyVault,
        on_saved: Callable[[], None] | None = None,
        messaging: ServiceClient | None = None,
        known_portals: KnownPortals | None = None,
    ) -> None:
        self.messaging = messaging
        # Shared by the requests (the app's state): which tenants have a portal.
        self.known_portals = known_portals or KnownPortals()
        # Seals the personal data of the contacts debtors leave (see domain.portal_contact).
        self.vault = vault
        self.app = app
        self.read_engine = read_engine
        self.clock = clock
        self.negotiation = negotiation
        self.signing_key = signing_key
        self.token_ttl = token_ttl
        self.on_saved = on_saved

    # ---- the tenant's profile ----------------------------------------------------------------

    def _portal(self, tenant: str) -> TenantPortal | None:
        return self.app.get_or_none(TenantPortal, tenant_portal_id(tenant))

    async def profile(self, tenant: str) -> PortalProfile:
        """The tenant's profile (name None: none saved yet)."""
        return _profile_of(await to_thread.run_sync(lambda: self._portal(tenant)), tenant)

    async def save_profile(
        self,
        tenant: str,
        *,
        name: str,
        portal_list: PortalList,
        saved_by: str,
        second_factor: str | None = None,
        code_channels: list[str] | None = None,
    ) -> PortalProfile:
        """Raises InvalidProfile naming each field that is wrong."""

        def command() -> TenantPortal:
            portal = self._portal(tenant) or TenantPortal(tenant=tenant)
            portal.save_profile(name=name, portal_list=portal_list, saved_by=saved_by)
            if second_factor is not None:
                portal.save_second_factor(
                    second_factor=second_factor,
                    code_channels=code_channels or list(portal.code_channels),
                    saved_by=saved_by,
                )
            assert portal.name is not None
            directory = self.app.get_or_none(PortalDirectory, PORTAL_DIRECTORY_ID)
            directory = directory or PortalDirectory()
            directory.list_tenant(tenant=tenant, name=portal.name)
            self.app.save(portal, directory)
            return portal

        saved = await to_thread.run_sync(lambda: self.app.retrying(command))
        self.known_portals.forget(tenant)
        return _profile_of(saved, tenant)

    async def save_logo(
        self, tenant: str, *, declared_type: str, content: bytes, saved_by: str
    ) -> PortalProfile:
        """Raises InvalidLogo naming the rule the image breaks."""

        def command() -> TenantPortal:
            portal = self._portal(tenant) or TenantPortal(tenant=tenant)
            portal.save_logo(declared_type=declared_type, content=content, saved_by=saved_by)
            self.app.save(portal)
            return portal

        saved = await to_thread.run_sync(lambda: self.app.retrying(command))
        return _profile_of(saved, tenant)

    async def logo(self, tenant: str) -> Logo | None:
        portal = await to_thread.run_sync(lambda: self._portal(tenant))
        return portal.logo if portal is not None else None

    async def directory(self) -> dict[str, str]:
        """Tenants with a portal profile, by name."""
        found = await to_thread.run_sync(
            lambda: self.app.get_or_none(PortalDirectory, PORTAL_DIRECTORY_ID)
        )
        tenants = dict(found.tenants) if found is not None else {}
        return dict(sorted(tenants.items(), key=lambda item: item[1].casefold()))

    async def portal_exists(self, tenant: str) -> bool:
        """A tenant has a portal once it has a profile or any debt."""
        if (await self.profile(tenant)).name is not None:
            return True
        return await to_thread.run_sync(
            lambda: portal_queries.tenant_has_debts(self.read_engine, tenant)
        )

    async def has_portal(self, tenant: str) -> bool:
        """portal_exists for the debtor's doors, which ask it on every request: a tenant
        outside PORTAL_TENANT has none, and the answer is remembered briefly (KnownPortals)."""
        if not PORTAL_TENANT.fullmatch(tenant):
            return False
        known = self.known_portals.get(tenant)
        if known is None:
            known = await self.portal_exists(tenant)
            self.known_portals.remember(tenant, known)
        return known

    # ---- the debtor --------------------------------------------------------------------------

    async def debtor_view(self, tenant: str, document: str) -> DebtorView:
        """The document's debts the portal list lets through, and its agreements."""
        engine = self.read_engine
        portal_list = (await self.profile(tenant)).portal_list
        rows = await to_thread.run_sync(lambda: portal_view.open_debts(engine, tenant, document))
        agreements = await to_thread.run_sync(
            lambda: portal_view.agreements_of(engine, tenant, document)
        )
        name: str | None = rows[0]["debtor_name"] if rows else None
        if name is None and agreements:
            name = await to_thread.run_sync(
                lambda: portal_view.debtor_name(engine, tenant, document)
            )
        today = self.clock.today()
        debts = [
            EligibleDebt(
                debt_id=r["debt_id"],
                creditor=r["creditor"],
                contract=r["contract"],
                installment=r["installment"],
                category=r.get("category"),
                original_amount_cents=r["original_amount_cents"],
                paid_cents=r["paid_cents"],
                balance_cents=r["balance_cents"],
                due_date=portal_view.due_date_of(r),
                days_overdue=days_overdue(portal_view.due_date_of(r), today),
            )
            for r in rows
            if exclusion(_listed(r), portal_list, today) is None
        ]
        return DebtorView(
            tenant=tenant,
            document=document,
            document_kind=document_kind(document) or "cpf",
            debtor_name=name,
            debts=debts,
            agreements=agreements,
        )

    async def lookup(self, tenant: str, raw_document: str) -> PortalLookup | PendingLookup:
        """The debtor's view and a portal token for it, or (when the tenant asks for a second
        factor) a code sent, or the date of birth asked, and the name masked. Raises
        InvalidDocument (pt-BR reason), CodeUnavailable, BirthDateUnavailable, and
        CodeRefused("exhausted") for a document locked for the day."""
        document = validate_document(raw_document)
        profile = await self.profile(tenant)
        if profile.second_factor == "code":
            return await self._send_code(tenant, document, profile)
        if profile.second_factor == BIRTH_DATE:
            return await self._ask_birth_date(tenant, document)
        return await self._open(tenant, document)

    def _birth_digests(self, tenant: str, document: str) -> set[str]:
        return portal_view.birth_date_digests(self.read_engine, tenant, document)

    def _no_birth_date(self, document: str) -> BirthDateUnavailable:
        return BirthDateUnavailable(
            f"não há {date_label(document)} cadastrada para este documento; fale com a assessoria"
        )

    async def _ask_birth_date(self, tenant: str, document: str) -> PendingLookup:
        """The document's date challenge of the business day (made on its first lookup; the
        same one on every other lookup that day, with the tries it has left). Raises
        BirthDateUnavailable, and CodeRefused("exhausted") while the document is locked."""
        digests = await to_thread.run_sync(lambda: self._birth_digests(tenant, document))
        if not digests:
            raise self._no_birth_date(document)
        today = self.clock.today()

        def command() -> PortalChallenge:
            found = self.app.get_or_none(
                PortalChallenge, birth_date_challenge_id(tenant, document, today)
            )
            if found is not None:
                return found
            challenge = issue_birth_date(tenant=tenant, document=document, today=today)
            # Two lookups at once: the second save conflicts, and its retry finds the first.
            self.app.save(challenge)
            return challenge

        challenge = await to_thread.run_sync(lambda: self.app.retrying(command))
        shared = await self._date_tries(tenant, document)
        if challenge.locked or shared.locked:
            raise CodeRefused("exhausted", DATE_MESSAGES["exhausted"])
        return await self._pending(
            challenge,
            method=BIRTH_DATE,
            attempts_left=min(challenge.attempts_left, shared.left),
        )

    async def _date_tries(
        self, tenant: str, document: str, try_id: str | None = None
    ) -> BirthDateTriesOut:
        """The wrong dates the document has left today on both doors: the messaging service
        counts the portal's with the chat's, so typing the CPF on the other door gives no
        fresh tries. With `try_id`, a wrong date typed here is one more used."""
        assert self.messaging is not None, "the portal's date of birth needs the messaging port"
        return await self.messaging.ask(
            BirthDateTry(tenant=tenant, document=document, try_id=try_id),
            f"{tenant}|{document}",
            BirthDateTriesOut,
        )

    async def _pending(
        self,
        challenge: PortalChallenge,
        *,
        channel: str | None = None,
        destination: str | None = None,
        method: str = "code",
        attempts_left: int = MAX_ATTEMPTS,
    ) -> PendingLookup:
        """The answer while the second factor is asked: the debtor's name masked, no values."""
        tenant, document = challenge.tenant, challenge.document
        name = await to_thread.run_sync(
            lambda: portal_view.debtor_name(self.read_engine, tenant, document)
        )
        return PendingLookup(
            tenant=tenant,
            document=document,
            masked_name=mask_name(name),
            challenge_id=str(challenge.id),
            channel=channel,
            destination=destination,
            expires_at=challenge.expires_at,
            method=method,
            attempts_left=attempts_left,
        )

    async def _send_code(self, tenant: str, document: str, profile: PortalProfile) -> PendingLookup:
        assert self.messaging is not None, "the portal's second factor needs the messaging port"
        code = new_code()
        message_key = str(uuid.uuid4())
        sent = await self.messaging.ask(
            SendAccessCode(
                tenant=tenant,
                document=document,
                challenge_id=message_key,
                code=code,
                channels=list(profile.code_channels),
            ),
            f"{tenant}|{document}",
            AccessCodeOut,
        )
        if sent.rule == "too_many_codes":
            raise CodeRefused(
                "too_many_codes",
                "muitos códigos de acesso enviados hoje para este documento; tente amanhã ou "
                "fale com a assessoria",
            )
        if not sent.sent or sent.channel is None or sent.destination is None:
            raise CodeUnavailable(
                "não há telefone nem e-mail cadastrado para enviar o código de acesso; "
                "fale com a assessoria"
            )
        now = dt.datetime.now(dt.UTC)  # a code's life is real time, like a token's
        challenge = issue_challenge(
            key=self.signing_key,
            tenant=tenant,
            document=document,
            code=code,
            channel=sent.channel,
            destination=sent.destination,
            now=now,
        )
        await to_thread.run_sync(lambda: self.app.save(challenge))
        return await self._pending(challenge, channel=sent.channel, destination=sent.destination)

    def _challenge(self, tenant: str, challenge_id: str) -> PortalChallenge | None:
        try:
            found = self.app.get_or_none(PortalChallenge, uuid.UUID(challenge_id))
        except ValueError:
            found = None
        return found if found is not None and found.tenant == tenant else None

    async def challenge_method(self, tenant: str, challenge_id: str) -> str | None:
        """What the challenge asks for ("code", "birth_date"); None when there is none."""
        found = await to_thread.run_sync(lambda: self._challenge(tenant, challenge_id))
        return found.method if found is not None else None

    async def challenge_state(
        self, tenant: str, challenge_id: str, left: int | None = None
    ) -> tuple[str, int] | None:
        """The document a challenge is for (how a page names the date) and its tries left
        (`left` when the caller knows them already: a wrong date's answer says them); None
        without one."""
        found = await to_thread.run_sync(lambda: self._challenge(tenant, challenge_id))
        if found is None:
            return None
        if left is not None:
            return found.document, left
        left = found.attempts_left
        if found.method == BIRTH_DATE:
            left = min(left, (await self._date_tries(tenant, found.document)).left)
        return found.document, left

    async def verify(self, tenant: str, challenge_id: str, code: str) -> PortalLookup:
        """The code typed: the debtor's view and token, or CodeRefused saying why."""
        now = dt.datetime.now(dt.UTC)

        def command() -> tuple[str, str, int]:
            found = self._challenge(tenant, challenge_id)
            if found is None or found.method != "code":
                return "not_found", "", 0
            outcome = found.check(key=self.signing_key, code=code, now=now)
            if outcome in ("verified", "mismatch", "exhausted"):
                self.app.save(found)
            return outcome, found.document, found.attempts_left

        outcome, document, left = await to_thread.run_sync(lambda: self.app.retrying(command))
        if outcome == "verified":
            return await self._open(tenant, document)
        raise CodeRefused(outcome, CODE_MESSAGES[outcome].format(left=left), left)

    async def verify_birth_date(self, tenant: str, challenge_id: str, typed: str) -> PortalLookup:
        """The date typed (dd/mm/aaaa, ddmmaaaa or aaaa-mm-dd): the debtor's view and token;
        InvalidBirthDate for what is no date (no try used), BirthDateUnavailable when the date
        is gone from the carteira, or CodeRefused saying why (tries left, locked, another
        day's challenge)."""
        today = self.clock.today()
        now = dt.datetime.now(dt.UTC)
        found = await to_thread.run_sync(lambda: self._challenge(tenant, challenge_id))
        if found is None or found.method != BIRTH_DATE:
            raise CodeRefused("not_found", DATE_MESSAGES["not_found"])
        document = found.document
        label = date_label(document)
        birth_date = parse_birth_date(typed, today, label)  # raises InvalidBirthDate
        digests = await to_thread.run_sync(lambda: self._birth_digests(tenant, document))
        if not digests:
            raise self._no_birth_date(document)
        # Locked by the wrong dates of either door: the right date is refused too.
        if (await self._date_tries(tenant, document)).locked:
            raise CodeRefused("exhausted", DATE_MESSAGES["exhausted"].format(label=label, left=0))

        def command() -> tuple[str, int, int | None]:
            challenge = self._challenge(tenant, challenge_id)
            assert challenge is not None  # found above; challenges are never deleted
            before = challenge.version
            outcome = challenge.check_birth_date(
                key=self.signing_key, birth_date=birth_date, known=digests, today=today, now=now
            )
            missed = challenge.version != before  # a wrong date, recorded
            if missed:
                self.app.save(challenge)
            return outcome, challenge.attempts_left, challenge.version if missed else None

        outcome, left, missed_at = await to_thread.run_sync(lambda: self.app.retrying(command))
        if outcome == "verified":
            return await self._open(tenant, document)
        if missed_at is not None:
            # Counted with the chat's, once per wrong date (the challenge's version names it).
            shared = await self._date_tries(tenant, document, f"{challenge_id}:{missed_at}")
            left = min(left, shared.left)
            if shared.locked:
                outcome = "exhausted"
        raise CodeRefused(outcome, DATE_MESSAGES[outcome].format(label=label, left=left), left)

    async def _open(self, tenant: str, document: str) -> PortalLookup:
        view = await self.debtor_view(tenant, document)
        now = dt.datetime.now(dt.UTC)
        token = issue_token(
            self.signing_key,
            tenant=tenant,
            role="portal",
            subject=f"portal:{document}",
            document=document,
            ttl=self.token_ttl,
            now=now,
        )
        return PortalLookup(view=view, token=token, token_expires_at=now + self.token_ttl)

    async def check_eligible(self, tenant: str, document: str, debt_ids: list[str]) -> None:
        """NotEligible unless every debt is the debtor's and the portal list lets it through.
        A debt's status is left to the negotiation service (already in an agreement: 409, or
        the same agreement again for the same idempotency key)."""
        portal_list = (await self.profile(tenant)).portal_list
        if portal_list.is_open:
            return
        rows = await to_thread.run_sync(
            lambda: portal_queries.debts_by_id(self.read_engine, tenant, document, debt_ids)
        )
        today = self.clock.today()
        refused = [
            debt_id
            for debt_id in dict.fromkeys(debt_ids)
            if debt_id not in rows or exclusion(_listed(rows[debt_id]), portal_list, today)
        ]
        if refused:
            raise NotEligible(refused)

    async def offers(
        self, tenant: str, debt_ids: list[str], *, document: str | None, channel: Channel
    ) -> OffersOut:
        if document is not None:
            await self.check_eligible(tenant, document, debt_ids)
        return await self.negotiation.ask(
            GetOffers(tenant=tenant, document=document, debt_ids=debt_ids, channel=channel),
            f"{tenant}|{document or debt_ids[0]}",
            OffersOut,
        )

    async def close(
        self,
        tenant: str,
        debt_ids: list[str],
        installments: int,
        idempotency_key: str,
        *,
        document: str | None,
        channel: Channel,
        operator: str | None = None,
    ) -> AgreementOut:
        if document is not None:
            await self.check_eligible(tenant, document, debt_ids)
        return await self.negotiation.ask(
            CloseAgreement(
                tenant=tenant,
                document=document,
                debt_ids=debt_ids,
                installments=installments,
                channel=channel,
                operator=operator,
                idempotency_key=idempotency_key,
            ),
            f"{tenant}|{document or debt_ids[0]}",
            AgreementOut,
        )

    async def agreement(
        self, tenant: str, agreement_id: str, *, document: str | None
    ) -> AgreementOut:
        return await self.negotiation.ask(
            GetAgreement(tenant=tenant, agreement_id=agreement_id, document=document),
            f"{tenant}|{document or agreement_id}",
            AgreementOut,
        )

    async def invoice_pdf(
        self, tenant: str, agreement_id: str, invoice_id: str, *, document: str | None
    ) -> bytes:
        return await self.negotiation.raw(
            GetDocument(
                tenant=tenant, agreement_id=agreement_id, invoice_id=invoice_id, document=document
            ),
            f"{tenant}|{document or agreement_id}",
        )

    async def term_pdf(self, tenant: str, agreement_id: str, *, document: str | None) -> bytes:
        return await self.negotiation.raw(
            GetDocument(tenant=tenant, agreement_id=agreement_id, document=document),
            f"{tenant}|{document or agreement_id}",
        )

    async def leave_contact(
        self, tenant: str, document: str, form_key: str, details: ContactDetails
    ) -> bool:
        """Record the contact for the agency (once per form: True the first time). The name,
        phone and e-mail are stored sealed with the debtor's key."""

        def command() -> bool:
            contact_id = PortalContact.create_id(tenant, document, form_key)
            if self.app.get_or_none(PortalContact, contact_id) is not None:
                return False
            fields = {"name": details.name, "phone": details.phone, "email": details.email}
            sealed = (
                seal(self.vault.key_for(tenant, document), fields).model_dump()
                if any(fields.values())
                else None
            )
            self.app.save(
                PortalContact(
                    tenant=tenant,
                    document=document,
                    form_key=form_key,
                    expected_creditor=details.expected_creditor,
                    message=details.message,
                    personal=sealed,
                )
            )
            return True

        created = await to_thread.run_sync(lambda: self.app.retrying(command))
        if created and self.on_saved is not None:
            self.on_saved()
        return created
