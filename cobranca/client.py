"""A small HTTP client of the gateway, used by the CLI (`cobranca import`) and `cobranca up`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


class GatewayError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = error.get("message") or str(body)
        details = "; ".join(
            f"{d.get('field')}: {d.get('message')}" for d in error.get("details", [])
        )
        super().__init__(f"HTTP {status}: {message}" + (f" ({details})" if details else ""))
        self.status = status
        self.body = body


class GatewayClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 120.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def _check(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise GatewayError(response.status_code, body)
        return body

    def upload_carteira(self, data: bytes, filename: str | None = None) -> dict[str, Any]:
        params = {"filename": filename} if filename else {}
        return dict(
            self._check(
                self.http.post(
                    "/api/v1/carteiras/",
                    content=data,
                    params=params,
                    headers={"Content-Type": "text/csv"},
                )
            )
        )

    def import_status(self, import_id: str) -> dict[str, Any]:
        return dict(self._check(self.http.get(f"/api/v1/carteiras/{import_id}")))

    def wait_for_import(
        self,
        import_id: str,
        timeout: float = 600.0,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = self.import_status(import_id)
            except GatewayError as exc:
                # An import pushed on `carteiras.inbound` is known here once the portfolio's
                # first events about it reach the gateway's read model: until then, 404.
                if exc.status != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
                continue
            if on_progress:
                on_progress(status)
            if status["status"] == "completed":
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"import {import_id} not completed after {timeout:.0f}s")
            time.sleep(0.3)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.http.get("/ready").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the gateway did not become ready")
            time.sleep(0.3)

    def lookup(self, tenant: str, document: str) -> dict[str, Any]:
        return dict(
            self._check(
                self.http.post(f"/api/v1/portal/{tenant}/lookup", json={"document": document})
            )
        )

    def timeline(self, document: str) -> dict[str, Any]:
        return dict(self._check(self.http.get(f"/api/v1/debtors/{document}/timeline")))

    # ---- negotiation ---------------------------------------------------------------------

    def create_condition(self, terms: dict[str, Any]) -> dict[str, Any]:
        return dict(self._check(self.http.post("/api/v1/admin/conditions", json=terms)))

    def conditions(self) -> list[dict[str, Any]]:
        return list(self._check(self.http.get("/api/v1/admin/conditions"))["conditions"])

    def save_negotiation_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        return dict(self._check(self.http.put("/api/v1/admin/negotiation-settings", json=settings)))

    def offers(self, tenant: str, debt_ids: list[str]) -> dict[str, Any]:
        return dict(
            self._check(
                self.http.get(
                    f"/api/v1/portal/{tenant}/offers", params=[("debt_id", d) for d in debt_ids]
                )
            )
        )

    def close_agreement(
        self, tenant: str, debt_ids: list[str], installments: int, idempotency_key: str
    ) -> tuple[int, dict[str, Any]]:
        response = self.http.post(
            f"/api/v1/portal/{tenant}/agreements",
            json={"debt_ids": debt_ids, "installments": installments},
            headers={"Idempotency-Key": idempotency_key},
        )
        return response.status_code, dict(self._check(response))

    def agreement(self, tenant: str, agreement_id: str) -> dict[str, Any]:
        return dict(
            self._check(self.http.get(f"/api/v1/portal/{tenant}/agreements/{agreement_id}"))
        )

    def pdf(self, path: str) -> bytes:
        response = self.http.get(path)
        self._check(response) if response.status_code >= 400 else None
        return response.content

    def report_payment(self, payment: dict[str, Any]) -> dict[str, Any]:
        return dict(self._check(self.http.post("/api/v1/payments/", json=payment)))

    def upload_cnab240(self, content: bytes, filename: str | None = None) -> dict[str, Any]:
        params = {"filename": filename} if filename else {}
        return dict(
            self._check(
                self.http.post(
                    "/api/v1/payments/cnab240",
                    content=content,
                    params=params,
                    headers={"Content-Type": "text/plain"},
                )
            )
        )

    # ---- ruler and call campaigns --------------------------------------------------------

    def create_ruler(self, definition: dict[str, Any]) -> dict[str, Any]:
        return dict(self._check(self.http.post("/api/v1/admin/rulers", json=definition)))

    def rulers(self) -> list[dict[str, Any]]:
        return list(self._check(self.http.get("/api/v1/admin/rulers"))["rulers"])

    def run_ruler(self) -> dict[str, Any]:
        """Run the tenant's ruler now for today (the ruler's business day): its counts."""
        return dict(self._check(self.http.post("/api/v1/admin/ruler/run", json={})))

    def create_campaign(self, definition: dict[str, Any]) -> dict[str, Any]:
        return dict(self._check(self.http.post("/api/v1/admin/campaigns", json=definition)))

    def campaigns(self) -> list[dict[str, Any]]:
        return list(self._check(self.http.get("/api/v1/admin/campaigns"))["campaigns"])

    def call_list(self, campaign_id: str, page: int = 1, page_size: int = 50) -> dict[str, Any]:
        return dict(
            self._check(
                self.http.get(
                    f"/api/v1/campaigns/{campaign_id}/call-list",
                    params={"page": page, "page_size": page_size},
                )
            )
        )

    def call_list_csv(self, campaign_id: str) -> bytes:
        response = self.http.get(f"/api/v1/campaigns/{campaign_id}/call-list.csv")
        if response.status_code >= 400:
            self._check(response)
        return response.content

    def record_call(self, campaign_id: str, call: dict[str, Any]) -> dict[str, Any]:
        return dict(
            self._check(self.http.post(f"/api/v1/campaigns/{campaign_id}/calls", json=call))
        )

    # ---- messaging -----------------------------------------------------------------------

    def save_template(self, channel: str, name: str, template: dict[str, Any]) -> dict[str, Any]:
        return dict(
            self._check(self.http.put(f"/api/v1/admin/templates/{channel}/{name}", json=template))
        )

    def save_messaging_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        return dict(self._check(self.http.put("/api/v1/admin/messaging-settings", json=settings)))

    # ---- conversations -------------------------------------------------------------------

    def whatsapp_inbound(self, message: dict[str, Any]) -> dict[str, Any]:
        """What the WhatsApp provider posts for a debtor's message (an integration token)."""
        return dict(self._check(self.http.post("/api/v1/webhooks/whatsapp", json=message)))

    def chat(self, tenant: str, text: str, conversation_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"text": text}
        if conversation_id:
            body["conversation_id"] = conversation_id
        return dict(self._check(self.http.post(f"/api/v1/chat/{tenant}/messages", json=body)))

    def conversations(self, **filters: str) -> list[dict[str, Any]]:
        found = self._check(self.http.get("/api/v1/conversations/", params=filters))
        return list(found["conversations"])

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        return dict(self._check(self.http.get(f"/api/v1/conversations/{conversation_id}")))

    def start_conversation(self, document: str, text: str) -> dict[str, Any]:
        body = {"document": document, "text": text}
        return dict(self._check(self.http.post("/api/v1/conversations/", json=body)))

    def set_available(self, available: bool, display_name: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"available": available}
        if display_name is not None:
            body["display_name"] = display_name
        return dict(self._check(self.http.put("/api/v1/operators/me/availability", json=body)))

    def send_in_conversation(self, conversation_id: str, text: str) -> dict[str, Any]:
        path = f"/api/v1/conversations/{conversation_id}/messages"
        return dict(self._check(self.http.post(path, json={"text": text})))

    def transfer_conversation(self, conversation_id: str, to_operator: str) -> dict[str, Any]:
        path = f"/api/v1/conversations/{conversation_id}/transfer"
        return dict(self._check(self.http.post(path, json={"to_operator": to_operator})))

    def close_conversation(self, conversation_id: str) -> dict[str, Any]:
        return dict(self._check(self.http.post(f"/api/v1/conversations/{conversation_id}/close")))
