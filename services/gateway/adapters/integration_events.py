"""The gateway's stored events as integration events: an upload becomes exactly the messages a
client system would publish on `carteiras.inbound`; a contact left on the portal becomes
`PortalContactLeft` (version 2, its personal data sealed; version 1 for contacts stored before,
as they were); an erasure of a debtor's personal data becomes `PersonalDataErased`; each save of
a tenant's portal profile (its name and portal list, its second factor, its logo: told by type,
size and digest, the image stays here) becomes `PortalProfileSaved` on `gateway.config` (version
2 for the one choice version 1 cannot say, the date of birth). An upload's rows go in the
oldest version of `CarteiraRowSubmitted` that has the file's columns. The
profile's stored events do not carry the tenant: the relay reads it from the profile's first
event (`IntegrationEvents`)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from contracts.carteiras import (
    INBOUND_TOPIC,
    CarteiraImportRequested,
    CarteiraRowSubmitted,
    CarteiraRowSubmittedV2,
    CarteiraRowSubmittedV3,
    RowFields,
    RowFieldsV2,
    RowFieldsV3,
)
from contracts.envelope import Envelope, derived_event_id
from contracts.gateway import (
    CONFIG_TOPIC,
    PORTAL_TOPIC,
    PortalContactLeft,
    PortalContactLeftV2,
    PortalListTerms,
    PortalLogo,
    PortalProfileSaved,
    PortalProfileSavedV2,
)
from contracts.personal import ERASURES_TOPIC, PersonalDataErased, SealedPersonalData
from service_runtime.outbox import envelope_fields
from service_runtime.stored_aggregates import TenantOf
from services.gateway.domain.erasure import DebtorErasures
from services.gateway.domain.portal_contact import PortalContact
from services.gateway.domain.portal_profile import TenantPortal
from services.gateway.domain.upload import CarteiraUpload

ROW_FIELDS = set(RowFields.model_fields)
ROW_FIELDS_V2 = set(RowFieldsV2.model_fields)
ROW_FIELDS_V3 = set(RowFieldsV3.model_fields)
# Event classes the @event decorator makes on the aggregate (invisible to the type checker).
UploadReceivedEvent: type[Any] = CarteiraUpload.Received  # type: ignore[attr-defined]
RowsReceivedEvent: type[Any] = CarteiraUpload.RowsReceived  # type: ignore[attr-defined]
ContactLeftEvent: type[Any] = PortalContact.Left  # type: ignore[attr-defined]
ErasedEvent: type[Any] = DebtorErasures.Erased  # type: ignore[attr-defined]
ProfileSavedEvent: type[Any] = TenantPortal.ProfileSaved  # type: ignore[attr-defined]
SecondFactorSavedEvent: type[Any] = TenantPortal.SecondFactorSaved  # type: ignore[attr-defined]
LogoSavedEvent: type[Any] = TenantPortal.LogoSaved  # type: ignore[attr-defined]
PROFILE_EVENTS = (ProfileSavedEvent, SecondFactorSavedEvent, LogoSavedEvent)


class IntegrationEvents:
    """The relay's mapper, with what the portal profile needs: the tenant of a profile (set
    once the host exists: `build_host` takes the mapper before it makes the application)."""

    def __init__(self, tenant_of: TenantOf | None = None) -> None:
        self.tenant_of = tenant_of

    def __call__(self, event: Any) -> Iterator[tuple[str, Envelope]]:
        return integration_events(event, self.tenant_of)


def profile_saved(
    event: Any, tenant_of: TenantOf | None
) -> PortalProfileSaved | PortalProfileSavedV2:
    if tenant_of is None:
        raise RuntimeError(
            f"portal profile {event.originator_id}: publishing it needs the tenant of the "
            "profile (IntegrationEvents.tenant_of)"
        )
    envelope = envelope_fields("gateway", event, tenant=tenant_of(event.originator_id))
    if isinstance(event, ProfileSavedEvent):
        return PortalProfileSaved(
            **envelope,
            part="profile",
            name=event.name,
            portal_list=PortalListTerms(
                **{k: v for k, v in event.portal_list.items() if k in PortalListTerms.model_fields}
            ),
            saved_by=event.saved_by,
        )
    if isinstance(event, SecondFactorSavedEvent):
        # The date of birth is the one choice version 1 cannot say: only it needs version 2.
        model = PortalProfileSavedV2 if event.second_factor == "birth_date" else PortalProfileSaved
        return model(
            **envelope,
            part="second_factor",
            second_factor=event.second_factor,
            code_channels=list(event.code_channels),
            saved_by=event.saved_by,
        )
    return PortalProfileSaved(
        **envelope,
        part="logo",
        logo=PortalLogo(
            media_type=event.media_type,
            size_bytes=len(base64.b64decode(event.data_b64)),
            sha256=event.sha256,
        ),
        saved_by=event.saved_by,
    )


def integration_events(
    event: Any, tenant_of: TenantOf | None = None
) -> Iterator[tuple[str, Envelope]]:
    if isinstance(event, PROFILE_EVENTS):
        yield CONFIG_TOPIC, profile_saved(event, tenant_of)
    elif isinstance(event, UploadReceivedEvent):
        yield (
            INBOUND_TOPIC,
            CarteiraImportRequested(
                event_id=derived_event_id("gateway", event.originator_id, event.originator_version),
                occurred_at=event.timestamp,
                tenant=event.tenant,
                aggregate_id=event.import_id,
                aggregate_version=event.originator_version,
                correlation_id=event.import_id,
                causation_id=event.import_id,
                import_id=event.import_id,
                source="upload",
                filename=event.filename,
                rows_total=event.rows_total,
                requested_by=event.requested_by,
            ),
        )
    elif isinstance(event, RowsReceivedEvent):
        cause = str(derived_event_id("gateway", event.originator_id, 1))
        for number, fields in event.rows:
            row: dict[str, Any] = {
                "event_id": derived_event_id("gateway", event.import_id, "row", number),
                "occurred_at": event.timestamp,
                "tenant": event.tenant,
                "aggregate_id": event.import_id,
                "aggregate_version": number,
                "correlation_id": event.import_id,
                "causation_id": cause,
                "import_id": event.import_id,
                "source": "upload",
                "row_key": str(number),
                "row_number": number,
                "rows_total": event.rows_total,
            }
            # The oldest version that has the file's columns: a date of birth column needs
            # version 3, a situação column version 2; any other file, version 1 as before.
            message: CarteiraRowSubmitted | CarteiraRowSubmittedV2 | CarteiraRowSubmittedV3
            if "birth_date" in fields:
                message = CarteiraRowSubmittedV3(
                    **row,
                    fields=RowFieldsV3(**{k: v for k, v in fields.items() if k in ROW_FIELDS_V3}),
                )
            elif "status" in fields:
                message = CarteiraRowSubmittedV2(
                    **row,
                    fields=RowFieldsV2(**{k: v for k, v in fields.items() if k in ROW_FIELDS_V2}),
                )
            else:
                message = CarteiraRowSubmitted(
                    **row,
                    fields=RowFields(**{k: v for k, v in fields.items() if k in ROW_FIELDS}),
                )
            yield INBOUND_TOPIC, message
    elif isinstance(event, ContactLeftEvent):
        yield PORTAL_TOPIC, _contact_left(event)
    elif isinstance(event, ErasedEvent):
        erasures_id = str(event.originator_id)
        yield (
            ERASURES_TOPIC,
            PersonalDataErased(
                event_id=derived_event_id("gateway", event.originator_id, event.originator_version),
                occurred_at=event.timestamp,
                tenant=event.tenant,
                aggregate_id=erasures_id,
                aggregate_version=event.originator_version,
                correlation_id=erasures_id,
                causation_id=erasures_id,
                document=event.document,
                key_ids=list(event.key_ids),
                requested_by=event.requested_by,
                reason=event.reason,
            ),
        )


def _contact_left(event: Any) -> PortalContactLeft | PortalContactLeftV2:
    contact_id = str(event.originator_id)
    envelope: dict[str, Any] = {
        "event_id": derived_event_id("gateway", event.originator_id, event.originator_version),
        "occurred_at": event.timestamp,
        "tenant": event.tenant,
        "aggregate_id": contact_id,
        "aggregate_version": event.originator_version,
        "correlation_id": contact_id,
        "causation_id": contact_id,
        "document": event.document,
        "expected_creditor": event.expected_creditor,
        "message": event.message,
        "left_at": event.timestamp,
    }
    # Stored before personal data was sealed: published as it was stored.
    in_clear = {"name": event.name, "phone": event.phone, "email": event.email}
    if any(in_clear.values()):
        return PortalContactLeft(**envelope, **in_clear)
    sealed = getattr(event, "personal", None)
    return PortalContactLeftV2(
        **envelope, personal=SealedPersonalData.model_validate(sealed) if sealed else None
    )
