"""The portal's pages (the Recuperador portal seed's flow, with the Negociador.com seed's way out
when nothing is found):

1. GET  /p/{tenant}                 the CPF/CNPJ form; POST /p/{tenant}/consulta checks it and
                                    opens the session (cookie), or first asks for the tenant's
                                    second factor: the code sent (POST /p/{tenant}/codigo) or
                                    the date of birth (POST /p/{tenant}/nascimento), then:
2. GET  /p/{tenant}/dividas         the eligible debts ("Negociar"), each with its original value
                                    and its balance (what broken agreements paid, deducted, said
                                    next to it), the agreements already made
                                    with their invoices; with nothing eligible, the contact form
                                    (POST /p/{tenant}/contato).
3. GET  /p/{tenant}/negociar        the offers for the chosen debt(s), one "Efetuar acordo" form
                                    each (POST /p/{tenant}/acordo, with the idempotency key
                                    made when this page was rendered).
4. GET  /p/{tenant}/acordos/{id}    an invoice: linha digitável, barcode, PIX code and QR code,
                                    and the PDFs (boleto, termo) through the session.

GET /portal asks which agency (and lists those with a portal profile). Handlers stay thin: the
use cases are services.gateway.application.portal's, shared with the JSON API."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.params import Parameter
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap
from markupsafe import Markup

from contracts.documents import InvalidDocument, mask_document
from contracts.envelope import TENANT_NAME
from contracts.negotiation_requests import (
    AgreementList,
    AgreementOut,
    InvoiceOut,
    ListAgreements,
)
from service_runtime.personal_data import REMOVED
from service_runtime.service_client import ServiceRefused, ServiceUnavailable
from services.gateway.adapters.barcodes import barcode_svg, data_uri, qr_svg
from services.gateway.adapters.tokens import Principal, renewed_token
from services.gateway.application.portal import (
    NO_BOLETO_PAGES,
    BirthDateUnavailable,
    CodeRefused,
    CodeUnavailable,
    DebtorView,
    InvoicePayment,
    NotEligible,
    PendingLookup,
    PortalLookup,
    PortalService,
    boleto_withheld_rule,
    date_label,
)
from services.gateway.domain.portal_challenge import BIRTH_DATE, MAX_ATTEMPTS, InvalidBirthDate
from services.gateway.domain.portal_contact import InvalidContact, validate_contact
from services.gateway.domain.portal_profile import TenantPortal, tenant_portal_id
from services.gateway.entrypoints.http.errors import ApiError, RateLimited
from services.gateway.entrypoints.http.portal_deps import NOT_ELIGIBLE_MESSAGE, portal_service
from services.gateway.entrypoints.http.security import is_https, trusted_networks
from services.gateway.entrypoints.web.formatting import brl, date_br
from services.gateway.entrypoints.web.session import (
    RENEWED,
    SESSION_COOKIE,
    SessionRequired,
    SlidingSession,
    cleared_session,
    cookie_max_age,
    read_session,
    return_path,
    session_cookie,
    session_path,
)

log = logging.getLogger(__name__)

GENERIC_NAME = "Portal de negociação"
NO_STORE = {"Cache-Control": "no-store"}
FORM_KEY = re.compile(r"[A-Za-z0-9-]{8,64}")
TENANT_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
# What a tenant in a page's address may be: the name every tenant is given (contracts.envelope).
PAGE_TENANT = TENANT_NAME
MAX_DEBTS = 200
CONTACT_FIELDS = {
    "name": "nome",
    "phone": "telefone",
    "email": "email",
    "expected_creditor": "credor_esperado",
    "message": "mensagem",
}


def _is_https(request: Request[Any, Any, Any]) -> bool:
    """https, or http from a trusted proxy that says it was https (COBRANCA_TRUSTED_PROXIES)."""
    trusted = trusted_networks(request.app.state.settings.trusted_proxies)
    return is_https(request.scope, trusted)


def _page(
    name: str,
    context: Mapping[str, Any],
    status: int = 200,
    cookies: list[Cookie] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Template:
    return Template(
        template_name=name,
        context=dict(context),
        status_code=status,
        headers={**NO_STORE, **(headers or {})},
        cookies=cookies or [],
        media_type="text/html",
    )


def _error_context(tenant: str | None, title: str, message: str) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "portal_name": GENERIC_NAME,
        "logo_url": None,
        "signed_in": False,
        "title": title,
        "message": message,
    }


def _tenant_of(request: Request[Any, Any, Any]) -> str | None:
    tenant = request.path_params.get("tenant")
    return tenant if isinstance(tenant, str) else None


# ---- errors raised outside the handlers' own flow ----------------------------------------------


def _session_redirect(request: Request[Any, Any, Any], exc: SessionRequired) -> Response[Any]:
    query = {"sessao": "expirada"} if exc.expired else {}
    back = return_path(exc.tenant, exc.back)
    if back and back != f"{session_path(exc.tenant)}/dividas":  # where identifying leads anyway
        query["voltar"] = back
    target = f"/p/{quote(exc.tenant, safe='')}" + (f"?{urlencode(query)}" if query else "")
    return Redirect(
        path=target,
        status_code=303,
        cookies=[cleared_session(exc.tenant, _is_https(request))],
        headers=NO_STORE,
    )


def _csrf_refused(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    tenant = _tenant_of(request)
    return _page(
        "erro.html",
        _error_context(
            tenant,
            "Não foi possível enviar o formulário",
            "Por segurança, este formulário só vale na página em que foi aberto. Volte, "
            "recarregue a página e tente de novo.",
        ),
        status=403,
    )


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, PermissionDeniedException):
        return _csrf_refused(request, exc)
    status = exc.status_code
    message = (
        "Página não encontrada."
        if status == 404
        else "Não foi possível atender a este pedido. Volte e tente de novo."
    )
    return _page(
        "erro.html",
        _error_context(_tenant_of(request), "Algo deu errado", message),
        status=status,
    )


def _agency_frame(request: Request[Any, Any, Any], tenant: str | None) -> dict[str, Any]:
    """The agency's name and logo for a page made outside the handlers (an error raised by a
    middleware, say): exception handlers are not async, so the profile is read here directly;
    the generic frame when there is none or it cannot be read."""
    frame: dict[str, Any] = {"portal_name": GENERIC_NAME, "agency_name": None, "logo_url": None}
    if tenant is None or not PAGE_TENANT.fullmatch(tenant):
        return frame
    try:
        portal = request.app.state.gateway_app.get_or_none(TenantPortal, tenant_portal_id(tenant))
    except Exception:  # the frame is a nicety: the error page is shown anyway
        log.warning("portal profile of %s not read for an error page", tenant, exc_info=True)
        return frame
    if portal is None or portal.name is None:
        return frame
    return {
        "portal_name": portal.name,
        "agency_name": portal.name,
        "logo_url": f"/p/{tenant}/logo?v={portal.logo_sha256[:12]}" if portal.logo_sha256 else None,
    }


def _api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    """A refusal from the gateway's own checks before the page (say, too many attempts: the
    waiting time in the words and in Retry-After), in the agency's frame."""
    tenant = _tenant_of(request)
    title = "Muitas tentativas" if exc.status == 429 else "Não foi possível continuar"
    return _page(
        "erro.html",
        _error_context(tenant, title, " ".join(sentence(p) for p in exc.message.split(";")))
        | _agency_frame(request, tenant)
        # A closing refused comes from a signed-in debtor: back to the debts, not page one.
        | {"back_to_debts": request.url.path.rstrip("/").endswith("/acordo")},
        status=exc.status,
        headers={k: v for k, v in (exc.headers or {}).items() if k == "Retry-After"},
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _page(
        "erro.html",
        _error_context(
            _tenant_of(request),
            "Algo deu errado",
            "Tivemos um problema para mostrar esta página. Tente de novo em instantes.",
        ),
        status=500,
    )


PAGE_ERRORS: ExceptionHandlersMap = {
    SessionRequired: _session_redirect,
    # Before HTTPException: RateLimited is both (an HTTPException for other apps' handlers),
    # and a handler is chosen by the exception's MRO, where HTTPException comes first.
    RateLimited: _api_error,
    ApiError: _api_error,
    HTTPException: _http_error,
    PermissionDeniedException: _csrf_refused,
    Exception: _unexpected,
}


# ---- the pages ---------------------------------------------------------------------------------


class PortalPages(Controller):
    path = "/p/{tenant:str}"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    middleware = (SlidingSession,)

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _session(
        request: Request[Any, Any, Any], state: State, tenant: str, back: str | None = None
    ) -> Principal:
        """The debtor of the session, which this page's answer extends (see session.py); else
        SessionRequired, naming the page to come back to (`back`, or this page when asked
        with GET)."""
        token = request.cookies.get(SESSION_COOKIE)
        try:
            principal = read_session(state.signing_key, tenant, token)
        except SessionRequired as exc:
            if back is None and request.method == "GET":
                query = request.url.query
                back = request.url.path + (f"?{query}" if query else "")
            exc.back = back
            raise
        assert token is not None
        now = dt.datetime.now(dt.UTC)
        renewed, expires_at = renewed_token(
            state.signing_key, token, portal_service(state).token_ttl, now
        )
        request.scope.setdefault("state", {})[RENEWED] = session_cookie(
            tenant, renewed, cookie_max_age(expires_at, now), _is_https(request)
        )
        return principal

    @staticmethod
    async def _base(
        service: PortalService, tenant: str, signed_in: bool = False
    ) -> dict[str, Any] | None:
        """The page's frame (the agency's name and logo), None when the tenant has no portal."""
        if not PAGE_TENANT.fullmatch(tenant):
            return None
        profile = await service.profile(tenant)
        if profile.name is None and not await service.portal_exists(tenant):
            return None
        return {
            "tenant": tenant,
            "portal_name": profile.name or GENERIC_NAME,
            "agency_name": profile.name,
            "logo_url": f"/p/{tenant}/logo?v={profile.logo_sha256[:12]}"
            if profile.logo_sha256
            else None,
            "signed_in": signed_in,
        }

    @staticmethod
    def _not_found(tenant: str) -> Template:
        return _page(
            "erro.html",
            _error_context(
                None,
                "Portal não encontrado",
                f"Não encontramos o portal de negociação “{tenant}”. Confira o endereço que a "
                "assessoria enviou.",
            )
            | {"chooser_link": True},
            status=404,
        )

    @staticmethod
    def _error(
        base: Mapping[str, Any], title: str, message: str, status: int, back: bool = True
    ) -> Template:
        return _page(
            "erro.html",
            {**base, "title": title, "message": message, "back_to_debts": back},
            status=status,
        )

    def _identification_unavailable(self, base: Mapping[str, Any]) -> Template:
        """The service that sends the codes and counts the wrong dates did not answer."""
        page = self._error(
            base,
            "Serviço indisponível",
            "A identificação não respondeu a tempo. Tente de novo em instantes.",
            503,
            back=False,
        )
        page.headers["Retry-After"] = "5"
        return page

    def _refused(self, base: Mapping[str, Any], exc: Exception) -> Template:
        if isinstance(exc, NotEligible):
            return self._error(
                base, "Dívida indisponível", NOT_ELIGIBLE_MESSAGE.capitalize() + ".", 422
            )
        if isinstance(exc, ServiceUnavailable):
            page = self._error(
                base,
                "Serviço indisponível",
                "A negociação não respondeu a tempo. Tente de novo em instantes.",
                503,
            )
            page.headers["Retry-After"] = "5"
            return page
        if isinstance(exc, ServiceRefused):
            error = exc.error
            rules = {d.rule for d in error.details}
            if error.code == "debt_in_agreement" or "in_agreement" in rules:
                return self._error(
                    base,
                    "Esta dívida já está em um acordo",
                    "Você já fez um acordo para esta dívida. Veja-o em “Seus acordos”, com os "
                    "boletos e o PIX das parcelas.",
                    error.status,
                )
            if error.code == "debt_withdrawn" or "withdrawn" in rules:
                return self._error(
                    base,
                    "Dívida retirada da cobrança",
                    "O credor retirou esta dívida da cobrança: não há o que negociar nem pagar "
                    "por aqui.",
                    error.status,
                )
            if error.code == "debt_settled" or "settled" in rules:
                return self._error(
                    base, "Dívida já quitada", "Esta dívida já foi quitada.", error.status
                )
            missing = [d.field for d in error.details if d.rule == "not_found"]
            if missing:
                # What was asked for, as the service names it (QA: another debtor's agreement
                # answered "Dívida não encontrada"); 404 either way, nothing more said.
                title, message = NOT_FOUND_PAGES.get(missing[0], NOT_FOUND_PAGES["debt_ids"])
                return self._error(base, title, message, error.status)
            message = error.message[:1].upper() + error.message[1:]
            return self._error(
                base, "Não foi possível continuar", message.rstrip(".") + ".", error.status
            )
        raise exc

    async def _already_agreed(
        self,
        service: PortalService,
        base: Mapping[str, Any],
        document: str | None,
        debt_ids: list[str],
        exc: ServiceRefused,
    ) -> Template | None:
        """A debt already in an agreement, said as a debtor understands it: which creditor and
        contract, the day the agreement was made, a link to it. None when it is not that
        refusal, or the agreement cannot be told (then `_refused` says it in general)."""
        rules = {d.rule for d in exc.error.details}
        if exc.error.code != "debt_in_agreement" and "in_agreement" not in rules:
            return None
        if document is None:
            return None
        tenant = base["tenant"]
        try:
            listed = await service.negotiation.ask(
                ListAgreements(tenant=tenant, document=document),
                f"{tenant}|{document}",
                AgreementList,
            )
        except (ServiceRefused, ServiceUnavailable):
            return None
        wanted = set(debt_ids)
        for agreement in listed.agreements:
            held = [d for d in agreement.debts if d.debt_id in wanted]
            if agreement.status != "active" or not held:
                continue
            contracts = ", ".join(
                dict.fromkeys(
                    d.contract + (f" (parcela {d.installment})" if d.installment else "")
                    for d in held
                )
            )
            plural = len(held) > 1
            page = self._error(
                base,
                "Você já fez um acordo para esta dívida",
                f"Você já fez um acordo para {'estas dívidas' if plural else 'esta dívida'} "
                f"com {agreement.creditor} ({'contratos' if plural else 'contrato'} "
                f"{contracts}) em {date_br(agreement.closed_on)}. Os boletos e o PIX das "
                "parcelas estão no acordo.",
                409,
            )
            page.context["action_url"] = f"/p/{tenant}/acordos/{agreement.agreement_id}"
            page.context["action_label"] = "Ver o acordo"
            return page
        return None

    async def _debts_page(
        self,
        service: PortalService,
        base: Mapping[str, Any],
        principal: Principal,
        *,
        contact: Mapping[str, str] | None = None,
        contact_errors: Mapping[str, str] | None = None,
        contact_key: str | None = None,
        status: int = 200,
    ) -> Template:
        assert principal.document is not None
        view = await service.debtor_view(base["tenant"], principal.document)
        return _page(
            "dividas.html",
            {
                **base,
                **_debts_context(view),
                "contact": contact or {"nome": shown_name(view.debtor_name) or ""},
                "contact_errors": contact_errors or {},
                "contact_key": contact_key or str(uuid.uuid4()),
            },
            status=status,
        )

    # -- page 1: the document ----------------------------------------------------------------------

    @get("/")
    async def start(
        self, state: State, tenant: str, sessao: str | None = None, voltar: str | None = None
    ) -> Template:
        base = await self._base(portal_service(state), tenant)
        if base is None:
            return self._not_found(tenant)
        base["voltar"] = return_path(tenant, voltar)
        notice = (
            "Sua sessão expirou. Informe o CPF ou CNPJ de novo para continuar."
            if sessao == "expirada"
            else None
        )
        return _page("documento.html", {**base, "notice": notice, "document": "", "error": None})

    @post("/consulta")
    async def consult(
        self, request: Request[Any, Any, Any], state: State, tenant: str
    ) -> Response[Any]:
        service = portal_service(state)
        base = await self._base(service, tenant)
        if base is None:
            return self._not_found(tenant)
        form = await request.form()
        base["voltar"] = return_path(tenant, str(form.get("voltar") or ""))
        raw = str(form.get("document") or "")[:64]
        try:
            found = await service.lookup(tenant, raw)
        except ServiceUnavailable:
            return self._identification_unavailable(base)
        except InvalidDocument as exc:
            return _page(
                "documento.html",
                {**base, "notice": None, "document": raw, "error": document_message(exc)},
                status=422,
            )
        except (CodeUnavailable, BirthDateUnavailable, CodeRefused) as exc:
            # No contact, no date on file, or the document locked for the day (wrong dates).
            return _page(
                "documento.html",
                {**base, "notice": None, "document": raw, "error": sentence(str(exc))},
                status=422,
            )
        if isinstance(found, PendingLookup) and found.method == BIRTH_DATE:
            return _page(
                "nascimento.html",
                {**base, **_birth_date_context(found), "value": "", "error": None},
            )
        if isinstance(found, PendingLookup):
            return _page("codigo.html", {**base, **_code_context(found), "error": None})
        return self._signed_in(request, service, tenant, found, base["voltar"])

    def _signed_in(
        self,
        request: Request[Any, Any, Any],
        service: PortalService,
        tenant: str,
        found: PortalLookup,
        back: str | None = None,
    ) -> Response[Any]:
        """Identified: the debts page, or the page they were sent back from (`back`)."""
        max_age = cookie_max_age(found.token_expires_at, dt.datetime.now(dt.UTC))
        return Redirect(
            path=back or f"/p/{tenant}/dividas",
            status_code=303,
            cookies=[session_cookie(tenant, found.token, max_age, _is_https(request))],
            headers=NO_STORE,
        )

    @post("/codigo")
    async def code(
        self, request: Request[Any, Any, Any], state: State, tenant: str
    ) -> Response[Any]:
        """The second factor's code, typed: the debts page, or the form again saying why."""
        service = portal_service(state)
        base = await self._base(service, tenant)
        if base is None:
            return self._not_found(tenant)
        form = await request.form()
        base["voltar"] = return_path(tenant, str(form.get("voltar") or ""))
        challenge_id = str(form.get("challenge_id") or "")[:64]
        typed = "".join(c for c in str(form.get("code") or "")[:32] if c.isdigit())
        try:
            found = await service.verify(tenant, challenge_id, typed)
        except CodeRefused as exc:
            if exc.rule != "mismatch":
                return _page(
                    "documento.html",
                    {
                        **base,
                        "notice": exc.message.capitalize() + ".",
                        "document": "",
                        "error": None,
                    },
                    status=422,
                )
            return _page(
                "codigo.html",
                {
                    **base,
                    "challenge_id": challenge_id,
                    "destination": str(form.get("destination") or "")[:64],
                    "masked_name": str(form.get("masked_name") or "")[:200] or None,
                    "error": exc.message.capitalize() + ".",
                },
                status=422,
            )
        return self._signed_in(request, service, tenant, found, base["voltar"])

    @post("/nascimento")
    async def birth_date(
        self, request: Request[Any, Any, Any], state: State, tenant: str
    ) -> Response[Any]:
        """The date of birth, typed: the debts page, or the form again saying why next to the
        field (what is no date uses no try; a wrong date says the tries left today); locked
        for the day, another day's form, or no date on file: page one saying so."""
        service = portal_service(state)
        base = await self._base(service, tenant)
        if base is None:
            return self._not_found(tenant)
        form = await request.form()
        base["voltar"] = return_path(tenant, str(form.get("voltar") or ""))
        challenge_id = str(form.get("challenge_id") or "")[:64]
        typed = str(form.get("birth_date") or "")[:32]
        try:
            found = await service.verify_birth_date(tenant, challenge_id, typed)
        except ServiceUnavailable:
            return self._identification_unavailable(base)
        except (InvalidBirthDate, CodeRefused) as exc:
            if isinstance(exc, CodeRefused) and exc.rule != "mismatch":
                return _page(
                    "documento.html",
                    {**base, "notice": sentence(exc.message), "document": "", "error": None},
                    status=422,
                )
            try:
                # A wrong date's answer says the tries left; what is no date used none.
                known = exc.attempts_left if isinstance(exc, CodeRefused) else None
                found_state = await service.challenge_state(tenant, challenge_id, known)
                document, left = found_state or ("", 0)
            except ServiceUnavailable:
                return self._identification_unavailable(base)
            return _page(
                "nascimento.html",
                {
                    **base,
                    "challenge_id": challenge_id,
                    "masked_name": str(form.get("masked_name") or "")[:200] or None,
                    **_date_words(document),
                    "attempts_left": left if left < MAX_ATTEMPTS else None,
                    "value": typed.strip(),
                    "error": sentence(exc.message),
                },
                status=422,
            )
        except BirthDateUnavailable as exc:
            return _page(
                "documento.html",
                {**base, "notice": sentence(str(exc)), "document": "", "error": None},
                status=422,
            )
        return self._signed_in(request, service, tenant, found, base["voltar"])

    @post("/sair")
    async def sign_out(self, request: Request[Any, Any, Any], tenant: str) -> Response[Any]:
        return Redirect(
            path=f"/p/{tenant}",
            status_code=303,
            cookies=[cleared_session(tenant, _is_https(request))],
        )

    # -- page 2: the debts -------------------------------------------------------------------------

    @get("/dividas")
    async def debts(self, request: Request[Any, Any, Any], state: State, tenant: str) -> Template:
        principal = self._session(request, state, tenant)
        service = portal_service(state)
        base = await self._base(service, tenant, signed_in=True)
        if base is None:
            return self._not_found(tenant)
        return await self._debts_page(service, base, principal)

    @post("/contato")
    async def contact(
        self, request: Request[Any, Any, Any], state: State, tenant: str
    ) -> Response[Any]:
        principal = self._session(request, state, tenant, back=f"/p/{tenant}/dividas")
        assert principal.document is not None
        service = portal_service(state)
        base = await self._base(service, tenant, signed_in=True)
        if base is None:
            return self._not_found(tenant)
        form = await request.form()
        values = {field: str(form.get(field) or "")[:2000] for field in CONTACT_FIELDS.values()}
        key = str(form.get("chave") or "")
        if not FORM_KEY.fullmatch(key):
            return self._error(
                base, "Formulário inválido", "Recarregue a página e tente de novo.", 400
            )
        try:
            details = validate_contact(
                **{field: values[name] for field, name in CONTACT_FIELDS.items()}
            )
        except InvalidContact as exc:
            errors = {CONTACT_FIELDS[p.field]: p.message for p in exc.problems}
            return await self._debts_page(
                service,
                base,
                principal,
                contact=values,
                contact_errors=errors,
                contact_key=key,
                status=422,
            )
        await service.leave_contact(tenant, principal.document, key, details)
        return Redirect(path=f"/p/{tenant}/contato/recebido", status_code=303, headers=NO_STORE)

    @get("/contato/recebido")
    async def contact_received(
        self, request: Request[Any, Any, Any], state: State, tenant: str
    ) -> Template:
        self._session(request, state, tenant)
        base = await self._base(portal_service(state), tenant, signed_in=True)
        if base is None:
            return self._not_found(tenant)
        return _page("contato_recebido.html", base)

    # -- page 3: the offers ------------------------------------------------------------------------

    @get("/negociar")
    async def negotiate(
        self,
        request: Request[Any, Any, Any],
        state: State,
        tenant: str,
        divida: Annotated[list[str] | None, Parameter(query="divida")] = None,
    ) -> Response[Any]:
        principal = self._session(request, state, tenant)
        service = portal_service(state)
        base = await self._base(service, tenant, signed_in=True)
        if base is None:
            return self._not_found(tenant)
        debt_ids = list(dict.fromkeys(d for d in (divida or []) if d))[:MAX_DEBTS]
        if not debt_ids:
            return Redirect(path=f"/p/{tenant}/dividas", status_code=303)
        try:
            offers = await service.offers(
                tenant, debt_ids, document=principal.document, channel="portal"
            )
        except ServiceRefused as exc:
            agreed = await self._already_agreed(service, base, principal.document, debt_ids, exc)
            return agreed or self._refused(base, exc)
        except (NotEligible, ServiceUnavailable) as exc:
            return self._refused(base, exc)
        return _page(
            "negociacao.html",
            {
                **base,
                "offers": offers,
                "debt_ids": debt_ids,
                # One key per page shown: every click of its buttons closes one agreement.
                "idempotency_key": str(uuid.uuid4()),
            },
        )

    @post("/acordo")
    async def close(
        self, request: Request[Any, Any, Any], state: State, tenant: str
    ) -> Response[Any]:
        form = await request.form()
        key = str(form.get("chave") or "")
        debt_ids = list(dict.fromkeys(str(d) for d in form.getall("divida", []) if d))
        # Expired meanwhile: identified again, the debtor chooses again among the same offers.
        offers_page = f"/p/{tenant}/negociar?" + urlencode([("divida", d) for d in debt_ids])
        principal = self._session(request, state, tenant, back=offers_page)
        service = portal_service(state)
        base = await self._base(service, tenant, signed_in=True)
        if base is None:
            return self._not_found(tenant)
        installments = str(form.get("parcelas") or "")
        if (
            not FORM_KEY.fullmatch(key)
            or not debt_ids
            or len(debt_ids) > MAX_DEBTS
            or not installments.isdigit()
            or not 1 <= int(installments) <= 120
        ):
            return self._error(
                base, "Formulário inválido", "Volte à negociação e escolha uma opção.", 400
            )
        try:
            agreement = await service.close(
                tenant,
                debt_ids,
                int(installments),
                key,
                document=principal.document,
                channel="portal",
            )
        except ServiceRefused as exc:
            if any(d.rule == "reused" for d in exc.error.details):
                # This page's key already closed an agreement with another option (the
                # debtor went Back and chose again): a fresh offers page, with a new key, says
                # where the debt stands.
                return Redirect(path=offers_page, status_code=303, headers=NO_STORE)
            agreed = await self._already_agreed(service, base, principal.document, debt_ids, exc)
            return agreed or self._refused(base, exc)
        except (NotEligible, ServiceUnavailable) as exc:
            return self._refused(base, exc)
        return Redirect(
            path=f"/p/{tenant}/acordos/{agreement.agreement_id}", status_code=303, headers=NO_STORE
        )

    # -- page 4: the invoice -----------------------------------------------------------------------

    @get("/acordos/{agreement_id:str}")
    async def agreement(
        self,
        request: Request[Any, Any, Any],
        state: State,
        tenant: str,
        agreement_id: str,
        fatura: str | None = None,
    ) -> Template:
        principal = self._session(request, state, tenant)
        service = portal_service(state)
        base = await self._base(service, tenant, signed_in=True)
        if base is None:
            return self._not_found(tenant)
        try:
            agreement = await service.agreement(tenant, agreement_id, document=principal.document)
        except (ServiceRefused, ServiceUnavailable) as exc:
            return self._refused(base, exc)
        if fatura and all(i.invoice_id != fatura for i in agreement.invoices):
            # An invoice of no installment of this agreement (another debtor's, or a kept
            # link gone wrong): said so, as a 404, not the agreement's first parcela instead.
            title, message = NOT_FOUND_PAGES["invoice_id"]
            return self._error(base, title, message, 404)
        invoice = _chosen_invoice(agreement, fatura)
        paying = InvoicePayment.of(invoice) if invoice is not None else None
        payable = paying is not None and paying.payable
        partial = paying is not None and paying.partly_paid
        boleto = paying is not None and paying.boleto_payable
        # After a partial payment the PIX asks for the balance (the boleto, registered at the
        # bank with the installment's amount, is not offered then).
        pix = None if invoice is None or paying is None else paying.pix_code(invoice.pix_code)
        prefix = f"/p/{tenant}/acordos/{agreement.agreement_id}"
        return _page(
            "fatura.html",
            {
                **base,
                "agreement": agreement,
                "invoice": invoice,
                "payable": payable,
                "partial": partial,
                "boleto": boleto,
                "pix_code": pix,
                "barcode_uri": data_uri(barcode_svg(invoice.barcode))
                if invoice is not None and boleto
                else None,
                "qr_uri": data_uri(qr_svg(pix)) if pix is not None and payable else None,
                # Only a boleto that can still be paid in full: a paid one is no document to pay.
                "invoice_pdf_url": f"{prefix}/boleto/{invoice.invoice_id}.pdf"
                if invoice is not None and boleto
                else None,
                "term_pdf_url": f"{prefix}/termo.pdf",
                "agreement_url": prefix,
            },
        )

    @get("/acordos/{agreement_id:str}/boleto/{invoice_file:str}", media_type="application/pdf")
    async def invoice_pdf(
        self,
        request: Request[Any, Any, Any],
        state: State,
        tenant: str,
        agreement_id: str,
        invoice_file: str,
    ) -> Response[Any]:
        principal = self._session(request, state, tenant)
        service = portal_service(state)
        invoice_id = invoice_file.removesuffix(".pdf")
        try:
            pdf = await service.invoice_pdf(
                tenant, agreement_id, invoice_id, document=principal.document
            )
        except (ServiceRefused, ServiceUnavailable) as exc:
            base = await self._base(service, tenant, signed_in=True) or {"tenant": tenant}
            # The negotiation service withholds a boleto that no longer pays its invoice (a
            # link kept from before): say why, and lead back to the installment.
            rule = boleto_withheld_rule(exc) if isinstance(exc, ServiceRefused) else None
            if rule is not None:
                return self._no_boleto(base, agreement_id, invoice_id, rule)
            return self._refused(base, exc)
        return _pdf(pdf, f"boleto-{invoice_id[:8]}.pdf")

    def _no_boleto(
        self, base: Mapping[str, Any], agreement_id: str, invoice_id: str, rule: str
    ) -> Template:
        """The boleto of an invoice that cannot be paid with it, by the service's rule."""
        title, message = NO_BOLETO_PAGES[rule]
        page = self._error(base, title, message, 409)
        page.context["action_url"] = (
            f"/p/{base['tenant']}/acordos/{quote(agreement_id, safe='')}"
            f"?fatura={quote(invoice_id, safe='')}"
        )
        page.context["action_label"] = "Ver a parcela"
        return page

    @get("/acordos/{agreement_id:str}/termo.pdf", media_type="application/pdf")
    async def term_pdf(
        self, request: Request[Any, Any, Any], state: State, tenant: str, agreement_id: str
    ) -> Response[Any]:
        principal = self._session(request, state, tenant)
        service = portal_service(state)
        try:
            pdf = await service.term_pdf(tenant, agreement_id, document=principal.document)
        except (ServiceRefused, ServiceUnavailable) as exc:
            base = await self._base(service, tenant, signed_in=True) or {"tenant": tenant}
            return self._refused(base, exc)
        return _pdf(pdf, f"termo-de-acordo-{agreement_id[:8]}.pdf")

    # -- the agency's logo -------------------------------------------------------------------------

    @get("/logo")
    async def logo(self, state: State, tenant: str) -> Response[bytes]:
        logo = await portal_service(state).logo(tenant)
        if logo is None:
            return Response(b"", status_code=404, media_type="text/plain")
        return Response(
            logo.content,
            media_type=logo.media_type,
            headers={
                "Cache-Control": "public, max-age=300",
                "ETag": f'"{logo.sha256[:32]}"',
                "X-Content-Type-Options": "nosniff",
            },
        )


class PortalChooser(Controller):
    """The generic link: which agency? (its slug, or one of those with a portal profile)."""

    path = "/portal"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS

    @get("/")
    async def choose(self, state: State, assessoria: str | None = None) -> Response[Any]:
        service = portal_service(state)
        error: str | None = None
        slug = (assessoria or "").strip().lower()
        status = 200
        if assessoria is not None:
            if not TENANT_SLUG.fullmatch(slug):
                error = "Informe o identificador da assessoria: letras minúsculas, números e hífen."
                status = 422
            elif await service.portal_exists(slug):
                return Redirect(path=f"/p/{slug}", status_code=303)
            else:
                error = f"Não encontramos a assessoria “{slug}”. Confira o identificador."
                status = 404
        return _page(
            "portal.html",
            {
                "tenant": None,
                "portal_name": GENERIC_NAME,
                "logo_url": None,
                "signed_in": False,
                "agencies": await service.directory(),
                "slug": assessoria or "",
                "error": error,
            },
            status=status,
        )


# ---- view helpers --------------------------------------------------------------------------------


def _code_context(found: PendingLookup) -> dict[str, Any]:
    return {
        "challenge_id": found.challenge_id,
        "destination": found.destination,
        "masked_name": found.masked_name,
    }


def _date_words(document: str) -> dict[str, Any]:
    """How the date page names the date: a person's birth, or a company's opening."""
    label = date_label(document)
    company = label != "data de nascimento"
    return {
        "company": company,
        "date_noun": label,
        "date_label": label[:1].upper() + label[1:],
        "date_ask": "a data de abertura da empresa" if company else "sua data de nascimento",
    }


def _birth_date_context(found: PendingLookup) -> dict[str, Any]:
    return {
        "challenge_id": found.challenge_id,
        "masked_name": found.masked_name,
        **_date_words(found.document),
        # The whole day's tries at first; said again only once some were used.
        "attempts_left": found.attempts_left if found.attempts_left < MAX_ATTEMPTS else None,
    }


def sentence(message: str) -> str:
    """A service's reason as the pages say it: capitalized, with a full stop (the page's
    script says the same words, see portal.js)."""
    message = message.strip().rstrip(".")
    return message[:1].upper() + message[1:] + "."


def document_message(exc: InvalidDocument) -> str:
    """The server's reason, as the page says it (the same words the page's script uses)."""
    if exc.rule == "required":
        return "Informe o CPF ou o CNPJ."
    return f"{exc.reason[:1].upper()}{exc.reason[1:]}. Confira o número digitado."


def shown_name(name: str | None) -> str | None:
    """The debtor's name as the pages greet them; none once erased (LGPD): the page does not
    greet "[dado removido]" nor fill the contact form with it."""
    return None if name == REMOVED else name


def _debts_context(view: DebtorView) -> dict[str, Any]:
    groups: dict[str, list[Any]] = {}
    for debt in view.debts:
        groups.setdefault(debt.creditor, []).append(debt)
    return {
        "debtor_name": shown_name(view.debtor_name),
        "document_masked": mask_document(view.document),
        "document_kind": view.document_kind.upper(),
        "groups": groups,
        "deducted": {
            d.debt_id: deducted_line(d.paid_cents, _broken_with(view.agreements, d.creditor))
            for d in view.debts
            if d.paid_cents > 0
        },
        "agreements": view.agreements,
    }


def _broken_with(agreements: list[dict[str, Any]], creditor: str) -> int:
    return sum(1 for a in agreements if a["status"] == "broken" and a["creditor"] == creditor)


def deducted_line(paid_cents: int, broken_agreements: int) -> Markup:
    """What a reopened debt's balance already left out, said next to it (QA: the debts page
    showed only the original value, and a debtor who had paid thought the payment lost). Its
    payments came through the creditor's broken agreements: one, or more than one."""
    where = "em acordos anteriores" if broken_agreements > 1 else "no acordo anterior"
    return Markup("Já abatido: {} pagos {}").format(brl(paid_cents), where)


# The page of something the service did not find, by the field its refusal names.
NOT_FOUND_PAGES = {
    "debt_ids": (
        "Dívida não encontrada",
        "Não encontramos esta dívida. Volte às suas dívidas e escolha de novo.",
    ),
    "agreement_id": (
        "Acordo não encontrado",
        "Não encontramos este acordo. Volte às suas dívidas: seus acordos estão lá.",
    ),
    "invoice_id": (
        "Parcela não encontrada",
        "Não encontramos esta parcela. Volte às suas dívidas e abra o acordo de novo.",
    ),
}


def _chosen_invoice(agreement: AgreementOut, invoice_id: str | None) -> InvoiceOut | None:
    if invoice_id:
        for invoice in agreement.invoices:
            if invoice.invoice_id == invoice_id:
                return invoice
    for invoice in agreement.invoices:
        if invoice.status in ("open", "overdue"):
            return invoice
    return agreement.invoices[0] if agreement.invoices else None


def _pdf(content: bytes, filename: str) -> Response[Any]:
    return Response(
        content,
        media_type="application/pdf",
        headers={**NO_STORE, "Content-Disposition": f'inline; filename="{filename}"'},
    )
