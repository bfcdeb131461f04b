"""What admins configure in the ruler service, per tenant: rulers, call campaigns and the
results operators record. Definitions are stored as the contract's JSON, so what a run uses
is exactly what was saved; a change applies from the next run."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE


def config_id(tenant: str, kind: str, item_id: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"ruler-config|{tenant}|{kind}|{item_id}")


class RulerConfig(Aggregate):
    @staticmethod
    def create_id(tenant: str, ruler_id: str, **_: Any) -> uuid.UUID:
        return config_id(tenant, "ruler", ruler_id)

    @event("Saved")
    def __init__(self, *, tenant: str, ruler_id: str, definition_json: str, saved_by: str) -> None:
        self.tenant = tenant
        self.ruler_id = ruler_id
        self.definition_json = definition_json

    def change(self, *, definition_json: str, saved_by: str) -> None:
        self._changed(
            tenant=self.tenant,
            ruler_id=self.ruler_id,
            definition_json=definition_json,
            saved_by=saved_by,
        )

    @event("Changed")
    def _changed(self, *, tenant: str, ruler_id: str, definition_json: str, saved_by: str) -> None:
        self.definition_json = definition_json


class CampaignConfig(Aggregate):
    @staticmethod
    def create_id(tenant: str, campaign_id: str, **_: Any) -> uuid.UUID:
        return config_id(tenant, "campaign", campaign_id)

    @event("Saved")
    def __init__(
        self, *, tenant: str, campaign_id: str, definition_json: str, saved_by: str
    ) -> None:
        self.tenant = tenant
        self.campaign_id = campaign_id
        self.definition_json = definition_json

    def change(self, *, definition_json: str, saved_by: str) -> None:
        self._changed(
            tenant=self.tenant,
            campaign_id=self.campaign_id,
            definition_json=definition_json,
            saved_by=saved_by,
        )

    @event("Changed")
    def _changed(
        self, *, tenant: str, campaign_id: str, definition_json: str, saved_by: str
    ) -> None:
        self.definition_json = definition_json


class TenantRuler(Aggregate):
    """The tenant's lists of rulers and campaigns, its call result types, and the runs its
    admins asked for by hand (who asked, which day, what the run did)."""

    @staticmethod
    def create_id(tenant: str, **_: Any) -> uuid.UUID:
        return config_id(tenant, "tenant", tenant)

    @event("Started")
    def __init__(self, *, tenant: str) -> None:
        self.tenant = tenant
        self.ruler_ids: list[str] = []
        self.campaign_ids: list[str] = []
        self.call_results_json: str | None = None

    @event("RulerAdded")
    def add_ruler(self, *, ruler_id: str) -> None:
        self.ruler_ids = [*self.ruler_ids, ruler_id]

    @event("CampaignAdded")
    def add_campaign(self, *, campaign_id: str) -> None:
        self.campaign_ids = [*self.campaign_ids, campaign_id]

    def save_call_results(self, *, result_types_json: str, saved_by: str) -> None:
        self._call_results_saved(
            tenant=self.tenant, result_types_json=result_types_json, saved_by=saved_by
        )

    @event("CallResultTypesSaved")
    def _call_results_saved(self, *, tenant: str, result_types_json: str, saved_by: str) -> None:
        self.call_results_json = result_types_json

    def run_requested(self, *, on: dt.date, requested_by: str, counts: dict[str, int]) -> None:
        self._run_requested(tenant=self.tenant, on=on, requested_by=requested_by, counts=counts)

    @event("RunRequested")
    def _run_requested(
        self, *, tenant: str, on: dt.date, requested_by: str, counts: dict[str, int]
    ) -> None:
        """A fact for the audit trail only: the run's own work is in the receivables'
        events."""
