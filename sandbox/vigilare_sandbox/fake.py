"""The fake AWS service: recognises the requests moto cannot answer and answers them like AWS.

`FakeAws.route(request)` tells the gateway whether a request is the fake's (by the SigV4 service
name plus X-Amz-Target or path); `FakeAws.answer(request, account_id)` produces the AWS response.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from vigilare_sandbox import (
    fake_account,
    fake_ce_ses,
    fake_cloudtrail,
    fake_compute,
    fake_ecs,
    fake_guardduty,
    fake_health,
    fake_payments,
)
from vigilare_sandbox.fake_guardduty import DetectorLookup
from vigilare_sandbox.state import FakeState
from vigilare_sandbox.wire import WireRequest, WireResponse, json11_error, rest_json_error

JSON_SERVICES = {"health", "cloudtrail", "ce", "servicequotas", "lightsail", "ecs"}


@dataclass(frozen=True)
class FakeRoute:
    service: str  # SigV4 signing name
    operation: str


def route(request: WireRequest) -> FakeRoute | None:
    """Which fake operation a request is for, or None when moto should answer it."""
    if request.scope is None:
        return None
    service = request.scope.service
    target = request.target
    if service == "health" and target.startswith(fake_health.TARGET_PREFIX):
        # moto has no Health at all: every Health operation is ours, unknown ones get AWS's error.
        return FakeRoute(service, target.removeprefix(fake_health.TARGET_PREFIX))
    if service == "payments" and target.startswith(fake_payments.TARGET_PREFIX):
        # moto has no AWS Payments: every Payments operation is ours.
        return FakeRoute(service, target.removeprefix(fake_payments.TARGET_PREFIX))
    if service == "cloudtrail" and target == fake_cloudtrail.TARGET:
        return FakeRoute(service, "LookupEvents")
    if service == "ce" and target == fake_ce_ses.CE_TARGET:
        return FakeRoute(service, "GetAnomalies")
    if service == "guardduty" and request.method == "POST":
        operation = fake_guardduty.operation_for(request.path)
        if operation is not None:
            return FakeRoute(service, operation)
    ecs_operation = target.removeprefix(fake_ecs.TARGET_PREFIX)
    if (
        service == "ecs"
        and target.startswith(fake_ecs.TARGET_PREFIX)
        and ecs_operation in fake_ecs.OPERATIONS
    ):
        return FakeRoute(service, ecs_operation)
    if service == "account" and request.method == "POST" and request.path == fake_account.PATH:
        return FakeRoute(service, "GetContactInformation")
    # Service Quotas' request history and Lightsail (moto has neither): JSON 1.1 by X-Amz-Target.
    if (
        service == "servicequotas"
        and target == f"{fake_compute.QUOTAS_TARGET_PREFIX}ListRequestedServiceQuotaChangeHistory"
    ):
        return FakeRoute(service, target.removeprefix(fake_compute.QUOTAS_TARGET_PREFIX))
    if service == "lightsail" and target.startswith(fake_compute.LIGHTSAIL_TARGET_PREFIX):
        return FakeRoute(service, target.removeprefix(fake_compute.LIGHTSAIL_TARGET_PREFIX))
    # SESv2 signs as "ses" (like SES v1); only GetAccount's path is ours.
    if service == "ses" and request.method == "GET" and request.path == fake_ce_ses.SES_ACCOUNT_PATH:
        return FakeRoute(service, "GetAccount")
    return None


def _throttled(fake_route: FakeRoute) -> WireResponse:
    if fake_route.service == "payments":
        return fake_payments.error(400, "ThrottlingException", "Rate exceeded")
    if fake_route.service in JSON_SERVICES:
        return json11_error(400, "ThrottlingException", "Rate exceeded")
    return rest_json_error(429, "TooManyRequestsException", "Too Many Requests")


class FakeAws:
    def __init__(self, state: FakeState, detector_exists: DetectorLookup | None = None) -> None:
        self.state = state
        self._detector_exists = detector_exists

    def answer(self, fake_route: FakeRoute, request: WireRequest, account_id: str) -> WireResponse:
        if self.state.take_throttle(fake_route.service, fake_route.operation, account_id):
            return _throttled(fake_route)
        try:
            body = request.json_body()
        except (json.JSONDecodeError, UnicodeDecodeError):
            if fake_route.service in JSON_SERVICES or fake_route.service == "payments":
                return json11_error(400, "SerializationException", "Request body is not valid JSON")
            return rest_json_error(400, "BadRequestException", "Request body is not valid JSON")
        assert request.scope is not None  # route() only matches signed requests
        region = request.scope.region
        if fake_route.service == "guardduty":
            # moto owns detectors: ask it before taking our lock.
            detector_id = fake_guardduty.detector_id_of(request.path)
            if self._detector_exists is not None and not self._detector_exists(
                account_id, region, detector_id
            ):
                return fake_guardduty.unknown_detector()
        with self.state.lock:
            account = self.state.account(account_id)
            if fake_route.service == "health":
                return fake_health.handle(account, account_id, fake_route.operation, body)
            if fake_route.service == "payments":
                return fake_payments.handle(account, fake_route.operation, body)
            if fake_route.service == "cloudtrail":
                return fake_cloudtrail.lookup_events(account, region, body)
            if fake_route.service == "ce":
                return fake_ce_ses.get_anomalies(account, body)
            if fake_route.service == "ecs":
                return fake_ecs.handle(account, account_id, region, fake_route.operation, body)
            if fake_route.service == "account":
                return fake_account.get_contact_information(account, account_id, body)
            if fake_route.service == "servicequotas":
                return fake_compute.list_requested_quota_changes(
                    account, account_id, region, fake_route.operation, body
                )
            if fake_route.service == "lightsail":
                return fake_compute.get_lightsail_instances(
                    account, account_id, region, fake_route.operation, body
                )
            if fake_route.service == "ses":
                return fake_ce_ses.get_ses_account(account, region)
            if fake_route.operation == "ListFindings":
                return fake_guardduty.list_findings(account, region, detector_id, body)
            return fake_guardduty.get_findings(account, region, detector_id, body)
