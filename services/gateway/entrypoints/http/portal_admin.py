"""Admin API of the tenant's portal profile: the name and logo its debtors see at /p/{tenant}
and the portal list of the debts they may negotiate there (the Recuperador portal's "aba Portal
de negociação" of the agency's profile)."""

from __future__ import annotations

from typing import Any, Literal

from litestar import Controller, Request, get, put
from litestar.datastructures import State
from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import Cents
from services.gateway.application.portal import PortalProfile
from services.gateway.domain.portal_list import MAX_NAMES, PortalList
from services.gateway.domain.portal_profile import (
    MAX_LOGO_BYTES,
    MAX_NAME_LENGTH,
    InvalidLogo,
    InvalidProfile,
)
from services.gateway.entrypoints.http.auth import principal_of, requires
from services.gateway.entrypoints.http.errors import ApiError, not_found
from services.gateway.entrypoints.http.portal_deps import portal_service


class PortalListIn(BaseModel):
    """Which open debts the portal shows; every filter optional, all of them empty: every open
    debt. Ranges are inclusive; the amount is what is still owed of the debt's principal."""

    model_config = ConfigDict(extra="forbid")

    creditors: list[str] = Field(
        default_factory=list,
        max_length=MAX_NAMES,
        description="Only these creditors (case and accents ignored); empty: all",
    )
    categories: list[str] = Field(
        default_factory=list,
        max_length=MAX_NAMES,
        description="Only debts of these categories; empty: all (with or without category)",
    )
    amount_min_cents: Cents | None = Field(default=None, ge=0)
    amount_max_cents: Cents | None = Field(default=None, ge=0)
    days_overdue_min: int | None = Field(default=None, ge=0, le=100_000)
    days_overdue_max: int | None = Field(default=None, ge=0, le=100_000)


class PortalProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description="The agency's name as debtors see it on /p/{tenant}",
    )
    portal_list: PortalListIn = Field(default_factory=PortalListIn)
    second_factor: Literal["none", "code", "birth_date"] | None = Field(
        default=None,
        description="'code': a one-time code by SMS or e-mail before values are shown (names "
        "masked until then); 'birth_date': the debtor's date of birth from the carteira (a "
        "company's opening date, for a CNPJ), at most 5 wrong dates per document a day; "
        "'none': the document alone, as the seeds do. Omitted: unchanged",
    )
    code_channels: list[Literal["sms", "email"]] | None = Field(
        default=None, min_length=1, description="Where the code goes, in order of preference"
    )


class PortalProfileOut(BaseModel):
    tenant: str
    name: str
    portal_list: PortalListIn
    second_factor: str
    code_channels: list[str]
    portal_url: str = Field(description="The tenant's own portal link, to publish")
    logo_url: str | None = Field(description="The logo the portal shows, when one was sent")


def _list_in(portal_list: PortalList) -> PortalListIn:
    return PortalListIn(**portal_list.to_dict())


def _out(state: State, profile: PortalProfile) -> PortalProfileOut:
    base = state.settings.base_url.rstrip("/")
    return PortalProfileOut(
        tenant=profile.tenant,
        name=profile.name or "",
        portal_list=_list_in(profile.portal_list),
        second_factor=profile.second_factor,
        code_channels=list(profile.code_channels),
        portal_url=f"{base}/p/{profile.tenant}",
        logo_url=f"{base}/p/{profile.tenant}/logo" if profile.logo_sha256 else None,
    )


class PortalAdminController(Controller):
    path = "/api/v1/admin/portal"
    tags = ["admin: portal"]  # noqa: RUF012 (Litestar declares it a list)

    @get("/", guards=[requires("admin")], summary="The tenant's portal profile")
    async def get_profile(self, request: Request[Any, Any, Any], state: State) -> PortalProfileOut:
        principal = principal_of(request)
        profile = await portal_service(state).profile(principal.tenant)
        if profile.name is None:
            raise not_found(
                "tenant",
                "esta assessoria ainda não tem perfil do portal; crie-o com "
                "PUT /api/v1/admin/portal",
            )
        return _out(state, profile)

    @put(
        "/",
        guards=[requires("admin")],
        summary="Save the tenant's portal profile (name and portal list)",
        description="The portal list applies wherever a debtor sees debts: the portal's pages "
        "and `POST /api/v1/portal/{tenant}/lookup`; offers and agreements on the portal token "
        "are refused (422, `debt_ids`, `not_eligible`) for debts it leaves out.",
    )
    async def save_profile(
        self, request: Request[Any, Any, Any], state: State, data: PortalProfileIn
    ) -> PortalProfileOut:
        principal = principal_of(request)
        listed = data.portal_list
        try:
            profile = await portal_service(state).save_profile(
                principal.tenant,
                name=data.name,
                portal_list=PortalList(
                    creditors=tuple(listed.creditors),
                    categories=tuple(listed.categories),
                    amount_min_cents=listed.amount_min_cents,
                    amount_max_cents=listed.amount_max_cents,
                    days_overdue_min=listed.days_overdue_min,
                    days_overdue_max=listed.days_overdue_max,
                ),
                saved_by=principal.subject,
                second_factor=data.second_factor,
                code_channels=list(data.code_channels) if data.code_channels else None,
            )
        except InvalidProfile as exc:
            raise ApiError(
                422,
                "validation_failed",
                "; ".join(f"{p.field}: {p.message}" for p in exc.problems),
                [{"field": p.field, "rule": p.rule, "message": p.message} for p in exc.problems],
            ) from exc
        return _out(state, profile)

    @put(
        "/logo",
        guards=[requires("admin")],
        summary="Send the logo the portal shows (PNG or JPEG, at most 200 KB)",
        description="Body: the image itself, `Content-Type: image/png` or `image/jpeg`. Its "
        "first bytes must be that image's (another type: 415, rule `content_type` or "
        f"`magic_bytes`); larger than {MAX_LOGO_BYTES // 1024} KB: 422, rule `max_size`.",
    )
    async def save_logo(self, request: Request[Any, Any, Any], state: State) -> PortalProfileOut:
        principal = principal_of(request)
        declared = request.headers.get("content-type", "")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > 4 * MAX_LOGO_BYTES:
            raise _logo_error(
                InvalidLogo(
                    "max_size", f"o logotipo deve ter no máximo {MAX_LOGO_BYTES // 1024} KB"
                )
            )
        content = await request.body()
        service = portal_service(state)
        try:
            await service.save_logo(
                principal.tenant,
                declared_type=declared,
                content=content,
                saved_by=principal.subject,
            )
        except InvalidLogo as exc:
            raise _logo_error(exc) from exc
        profile = await service.profile(principal.tenant)
        return _out(state, profile)


def _logo_error(exc: InvalidLogo) -> ApiError:
    details = [{"field": "body", "rule": exc.rule, "message": exc.message}]
    if exc.rule in ("content_type", "magic_bytes"):
        return ApiError(415, "unsupported_media_type", exc.message, details)
    return ApiError(422, "validation_failed", exc.message, details)
