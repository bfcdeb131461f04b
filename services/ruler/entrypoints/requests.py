"""Answering requests on `ruler.requests` (configuration, operators' calls, and a run of a
tenant's rulers now)."""

from __future__ import annotations

from typing import Any

from contracts.ruler_requests import (
    REQUESTS_TOPIC,
    GetCallResultTypes,
    ListCampaigns,
    ListRulers,
    RecordCall,
    RulerRequestBody,
    RunRuler,
    SaveCallResultTypes,
    SaveCampaign,
    SaveRuler,
)
from service_runtime.clock_follower import ClockFollower
from service_runtime.host import ServiceHost
from service_runtime.refusal import Refused
from service_runtime.request_server import Answer, RequestServer
from services.ruler.application import RulerApplication


class RulerRequests:
    def __init__(self, host: ServiceHost, app: RulerApplication, days: ClockFollower) -> None:
        self.host = host
        self.app = app
        self.days = days
        self.server = RequestServer(
            host, REQUESTS_TOPIC, "ruler.requests", RulerRequestBody, self.run
        )

    def run(self, request: Any) -> Answer:
        app = self.app
        if isinstance(request, SaveRuler):
            return app.save_ruler(request)
        if isinstance(request, ListRulers):
            return app.list_rulers(request.tenant)
        if isinstance(request, SaveCampaign):
            return app.save_campaign(request)
        if isinstance(request, ListCampaigns):
            return app.list_campaigns(request.tenant)
        if isinstance(request, SaveCallResultTypes):
            return app.save_call_result_types(request)
        if isinstance(request, GetCallResultTypes):
            return app.call_result_types(request.tenant)
        if isinstance(request, RecordCall):
            # When it was recorded: the business date with the wall time of day.
            return app.record_call(request, self.host.clock.now())
        if isinstance(request, RunRuler):
            # The day the daily run last saw, not the wall clock: the same day, same keys.
            return app.run_now(request, self.days.last_day)
        raise Refused(400, "unknown_request", f"pedido desconhecido: {request.kind}")
