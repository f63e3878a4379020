"""Service Quotas' request history and Lightsail's instances (both JSON 1.1), which moto lacks.

- ``ListRequestedServiceQuotaChangeHistory`` (signing name ``servicequotas``): the region's quota
  increase requests, newest first, filtered by ``ServiceCode`` and ``Status``, in pages of
  ``MaxResults`` (1-100) with ``NextToken``
  (https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_ListRequestedServiceQuotaChangeHistory.html;
  the item is ``RequestedServiceQuotaChange``:
  https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_RequestedServiceQuotaChange.html).
- Lightsail ``GetInstances``: the region's instances with ``createdAt``, ``bundleId``, ``hardware``
  and ``state``, paged by ``pageToken`` / ``nextPageToken``
  (https://docs.aws.amazon.com/lightsail/2016-11-28/api-reference/API_GetInstances.html). Lightsail
  is offered in fewer regions than EC2; a client never reaches a region without it (no endpoint).
"""

from __future__ import annotations

from typing import Any

from vigilare_sandbox.state import AccountState, LightsailInstance, QuotaRequest
from vigilare_sandbox.wire import WireResponse, epoch_seconds, json11_error, json11_ok

QUOTAS_TARGET_PREFIX = "ServiceQuotasV20190624."
LIGHTSAIL_TARGET_PREFIX = "Lightsail_20161128."
_SERVICE_NAMES = {"ec2": "Amazon Elastic Compute Cloud (Amazon EC2)"}
_LIGHTSAIL_PAGE = 50


def _page(items: list[Any], token: str | None, size: int) -> tuple[list[Any], str | None]:
    start = int(token) if token and token.isdigit() else 0
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _quota_wire(request: QuotaRequest, account_id: str) -> dict[str, Any]:
    quota = f"{request.service_code}/{request.quota_code}"
    return {
        "Id": request.id,
        "CaseId": request.case_id,
        "ServiceCode": request.service_code,
        "ServiceName": _SERVICE_NAMES.get(request.service_code, request.service_code),
        "QuotaCode": request.quota_code,
        "QuotaName": request.quota_name,
        "DesiredValue": request.desired_value,
        "Status": request.status,
        "Created": epoch_seconds(request.created),
        "LastUpdated": epoch_seconds(request.created),
        "Requester": request.requester or f"arn:aws:iam::{account_id}:root",
        "QuotaArn": f"arn:aws:servicequotas:{request.region}:{account_id}:{quota}",
        "GlobalQuota": False,
        "Unit": "None",
        "QuotaRequestedAtLevel": "ACCOUNT",
    }


def list_requested_quota_changes(
    account: AccountState, account_id: str, region: str, operation: str, body: dict[str, Any]
) -> WireResponse:
    if operation != "ListRequestedServiceQuotaChangeHistory":
        return json11_error(400, "UnknownOperationException", f"{operation} is not served by the sandbox")
    size = body.get("MaxResults", 100)
    if not isinstance(size, int) or not 1 <= size <= 100:
        return json11_error(400, "ValidationException", "MaxResults must be between 1 and 100")
    requests = [
        request
        for request in account.quota_requests
        if request.region == region
        and body.get("ServiceCode") in (None, request.service_code)
        and body.get("Status") in (None, request.status)
    ]
    requests.sort(key=lambda request: request.created, reverse=True)
    page, token = _page(requests, body.get("NextToken"), size)
    answer: dict[str, Any] = {"RequestedQuotas": [_quota_wire(request, account_id) for request in page]}
    if token:
        answer["NextToken"] = token
    return json11_ok(answer)


def _instance_wire(instance: LightsailInstance, account_id: str) -> dict[str, Any]:
    return {
        "name": instance.name,
        "arn": f"arn:aws:lightsail:{instance.region}:{account_id}:Instance/{instance.name}",
        "createdAt": epoch_seconds(instance.created_at),
        "location": {"availabilityZone": f"{instance.region}a", "regionName": instance.region},
        "resourceType": "Instance",
        "blueprintId": instance.blueprint_id,
        "bundleId": instance.bundle_id,
        "hardware": {"cpuCount": instance.cpu_count, "ramSizeInGb": instance.ram_size_gb},
        "state": {"code": 16 if instance.state == "running" else 0, "name": instance.state},
        "isStaticIp": False,
    }


def get_lightsail_instances(
    account: AccountState, account_id: str, region: str, operation: str, body: dict[str, Any]
) -> WireResponse:
    if operation != "GetInstances":
        return json11_error(400, "InvalidInputException", f"{operation} is not served by the sandbox")
    instances = sorted(
        (instance for instance in account.lightsail_instances if instance.region == region),
        key=lambda instance: instance.created_at,
    )
    page, token = _page(instances, body.get("pageToken"), _LIGHTSAIL_PAGE)
    answer: dict[str, Any] = {"instances": [_instance_wire(instance, account_id) for instance in page]}
    if token:
        answer["nextPageToken"] = token
    return json11_ok(answer)
