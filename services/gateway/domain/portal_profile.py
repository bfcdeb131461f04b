"""A tenant's portal profile: the name and logo its debtors see at /p/{tenant}, and the portal
list choosing which debts they may negotiate there (the Recuperador portal's "aba Portal de
negociação" and "Personalizar imagens"). One event-sourced `TenantPortal` per tenant, and one
`PortalDirectory` naming the tenants that have a profile (the generic /portal lists them)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE
from services.gateway.domain.portal_list import (
    ListProblem,
    PortalList,
    list_problems,
    normalize_name,
)

MAX_NAME_LENGTH = 100
MAX_LOGO_BYTES = 200 * 1024
# What a logo's first bytes must be (checked, whatever the request says it is).
LOGO_SIGNATURES: dict[str, bytes] = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}


class InvalidProfile(ValueError):
    def __init__(self, problems: list[ListProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


class InvalidLogo(ValueError):
    """`rule`: "required", "max_size", "content_type" (not declared as PNG or JPEG) or
    "magic_bytes" (the bytes are not the image declared)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def sniff_image(data: bytes) -> str | None:
    """The media type the bytes are, by their signature: image/png, image/jpeg or None."""
    for media_type, signature in LOGO_SIGNATURES.items():
        if data.startswith(signature):
            return media_type
    return None


def check_logo(declared_type: str, data: bytes) -> str:
    """The logo's media type, or InvalidLogo saying (pt-BR) which rule it breaks."""
    declared = declared_type.split(";")[0].strip().lower()
    if declared == "image/jpg":
        declared = "image/jpeg"
    if declared not in LOGO_SIGNATURES:
        raise InvalidLogo(
            "content_type",
            f"o logotipo deve ser PNG ou JPEG (Content-Type image/png ou image/jpeg; "
            f"recebido: {declared or 'nenhum'})",
        )
    if not data:
        raise InvalidLogo("required", "envie a imagem do logotipo no corpo da requisição")
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidLogo(
            "max_size",
            f"o logotipo deve ter no máximo {MAX_LOGO_BYTES // 1024} KB "
            f"(recebidos {len(data) / 1024:.0f} KB)",
        )
    actual = sniff_image(data)
    if actual is None:
        raise InvalidLogo("magic_bytes", "o arquivo não é uma imagem PNG nem JPEG")
    if actual != declared:
        raise InvalidLogo(
            "magic_bytes", f"o arquivo é {_short(actual)}, mas foi enviado como {_short(declared)}"
        )
    return actual


def _short(media_type: str) -> str:
    return media_type.removeprefix("image/").upper()


def tenant_portal_id(tenant: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"tenant-portal|{tenant}")


@dataclass(frozen=True)
class Logo:
    media_type: str
    content: bytes
    sha256: str


class TenantPortal(Aggregate):
    @staticmethod
    def create_id(tenant: str, **_: Any) -> uuid.UUID:
        return tenant_portal_id(tenant)

    @event("Created")
    def __init__(self, *, tenant: str) -> None:
        self.tenant = tenant
        self.name: str | None = None
        self.portal_list_data: dict[str, Any] = {}
        self.logo_media_type: str | None = None
        self.logo_b64: str | None = None
        self.logo_sha256: str | None = None
        self.second_factor = "none"
        self.code_channels: list[str] = ["sms", "email"]

    @property
    def has_profile(self) -> bool:
        return self.name is not None

    @property
    def portal_list(self) -> PortalList:
        return PortalList.from_dict(self.portal_list_data)

    @property
    def logo(self) -> Logo | None:
        if self.logo_media_type is None or self.logo_b64 is None or self.logo_sha256 is None:
            return None
        return Logo(self.logo_media_type, base64.b64decode(self.logo_b64), self.logo_sha256)

    def save_profile(self, *, name: str, portal_list: PortalList, saved_by: str) -> None:
        name = " ".join(name.split())
        problems = list_problems(portal_list)
        if not name:
            problems.insert(0, ListProblem("name", "required", "informe o nome da assessoria"))
        elif len(name) > MAX_NAME_LENGTH:
            problems.insert(
                0, ListProblem("name", "max_length", f"no máximo {MAX_NAME_LENGTH} caracteres")
            )
        if problems:
            raise InvalidProfile(problems)
        self._profile_saved(
            name=name,
            portal_list={
                **portal_list.to_dict(),
                "creditors": _unique(portal_list.creditors),
                "categories": _unique(portal_list.categories),
            },
            saved_by=saved_by,
        )

    @event("ProfileSaved")
    def _profile_saved(self, *, name: str, portal_list: dict[str, Any], saved_by: str) -> None:
        self.name = name
        self.portal_list_data = portal_list

    def save_logo(self, *, declared_type: str, content: bytes, saved_by: str) -> None:
        media_type = check_logo(declared_type, content)
        self._logo_saved(
            media_type=media_type,
            data_b64=base64.b64encode(content).decode("ascii"),
            sha256=hashlib.sha256(content).hexdigest(),
            saved_by=saved_by,
        )

    def save_second_factor(
        self, *, second_factor: str, code_channels: list[str], saved_by: str
    ) -> None:
        """'none': the document alone opens the portal (as the seeds do); 'code': a one-time
        code sent by SMS or e-mail (in the order given) comes first; 'birth_date': the date of
        birth the carteira brought (a company's opening date, for a CNPJ) comes first."""
        problems = []
        if second_factor not in SECOND_FACTORS:
            problems.append(
                ListProblem("second_factor", "choice", "use 'none', 'code' ou 'birth_date'")
            )
        channels = list(dict.fromkeys(code_channels))
        if not channels or any(c not in CODE_CHANNELS for c in channels):
            problems.append(ListProblem("code_channels", "choice", "informe 'sms' e/ou 'email'"))
        if problems:
            raise InvalidProfile(problems)
        if (second_factor, channels) != (self.second_factor, self.code_channels):
            self._second_factor_saved(
                second_factor=second_factor, code_channels=channels, saved_by=saved_by
            )

    @event("SecondFactorSaved")
    def _second_factor_saved(
        self, *, second_factor: str, code_channels: list[str], saved_by: str
    ) -> None:
        self.second_factor = second_factor
        self.code_channels = code_channels

    @event("LogoSaved")
    def _logo_saved(self, *, media_type: str, data_b64: str, sha256: str, saved_by: str) -> None:
        self.logo_media_type = media_type
        self.logo_b64 = data_b64
        self.logo_sha256 = sha256


SECOND_FACTORS = ("none", "code", "birth_date")
CODE_CHANNELS = ("sms", "email")


def _unique(names: tuple[str, ...]) -> list[str]:
    """Trimmed, without repeats (as the list compares them), in the admin's order."""
    seen: dict[str, str] = {}
    for name in names:
        clean = " ".join(name.split())
        seen.setdefault(normalize_name(clean), clean)
    return list(seen.values())


PORTAL_DIRECTORY_ID = uuid.uuid5(COBRANCA_NAMESPACE, "portal-directory")


class PortalDirectory(Aggregate):
    """The tenants with a portal profile and their names."""

    @staticmethod
    def create_id(**_: Any) -> uuid.UUID:
        return PORTAL_DIRECTORY_ID

    @event("Created")
    def __init__(self) -> None:
        self.tenants: dict[str, str] = {}

    def list_tenant(self, *, tenant: str, name: str) -> None:
        if self.tenants.get(tenant) != name:
            self._tenant_listed(tenant=tenant, name=name)

    @event("TenantListed")
    def _tenant_listed(self, *, tenant: str, name: str) -> None:
        self.tenants = {**self.tenants, tenant: name}
