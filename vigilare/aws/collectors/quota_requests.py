"""EC2 vCPU quota increase requests per region (Service Quotas), for GPU/accelerated and standard
instance families: what a thief with stolen keys asks for before a mining burst.

``servicequotas:ListRequestedServiceQuotaChangeHistory`` with ``ServiceCode=ec2``
(https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_ListRequestedServiceQuotaChangeHistory.html)
lists the region's requests of the last 90 days, newest first, every status (``PENDING``,
``CASE_OPENED``, ``APPROVED``, ``DENIED``, ``CASE_CLOSED``, ``NOT_APPROVED``, ``INVALID_REQUEST``): one
call per region unless the account asked for more than 100 EC2 quota changes. Only the vCPU quotas
of the families that mine (on-demand and spot: G and VT, P, Inf, Trn, DL) and the standard families
are kept, created in the last ``WINDOW``. Regions without Service Quotas (botocore's endpoint data)
are not called.

Freshness: hourly. A request is a warning, not capacity: the instances it makes room for are read at
every scan; an hour is early enough to warn while AWS reviews a GPU increase (a support case that
takes hours to days), and costs one call per region an hour.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session

from vigilare.plugin import Collector, CollectorContext, as_datetime

WINDOW = timedelta(days=7)
QUOTAS_EVERY = timedelta(hours=1)
# EC2 vCPU quotas by code (Service Quotas names), for the families able to mine and the standard ones:
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-on-demand-instances.html#ec2-on-demand-instances-limits
# and https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html.
ACCELERATED_QUOTAS = {
    "L-DB2E81BA": "Running On-Demand G and VT instances",
    "L-417A185B": "Running On-Demand P instances",
    "L-1945791B": "Running On-Demand Inf instances",
    "L-2C3B7624": "Running On-Demand Trn instances",
    "L-6E869C2A": "Running On-Demand DL instances",
    "L-3819A6DF": "All G and VT Spot Instance Requests",
    "L-7212CCBC": "All P Spot Instance Requests",
    "L-B5D1601B": "All Inf Spot Instance Requests",
    "L-6B0D517C": "All Trn Spot Instance Requests",
    "L-85EED4F7": "All DL Spot Instance Requests",
}
STANDARD_QUOTAS = {
    "L-1216C47A": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
    "L-34B43A08": "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests",
}


@functools.cache
def service_quotas_regions() -> frozenset[str]:
    """Regions where AWS offers Service Quotas (botocore's endpoint data)."""
    return frozenset(botocore.session.get_session().get_available_regions("service-quotas"))


async def fetch_quota_requests(ctx: CollectorContext) -> list[dict[str, Any]] | None:
    """The region's EC2 vCPU quota increase requests of the last ``WINDOW``: ``Id``, ``CaseId``,
    ``QuotaCode``, ``QuotaName``, ``DesiredValue``, ``Status``, ``Created``, ``Requester`` and
    ``Accelerated`` (a GPU/accelerated family's quota); None where Service Quotas is not offered."""
    if ctx.region not in service_quotas_regions():
        return None
    since = datetime.now(UTC) - WINDOW
    requests = await ctx.paginate(
        "service-quotas", "list_requested_service_quota_change_history", "RequestedQuotas", ServiceCode="ec2"
    )
    kept = []
    for request in requests:
        code = request.get("QuotaCode", "")
        created = as_datetime(request.get("Created"))
        if code not in ACCELERATED_QUOTAS and code not in STANDARD_QUOTAS:
            continue
        if created is None or created < since:
            continue
        kept.append(
            {
                "Id": request.get("Id", ""),
                "CaseId": request.get("CaseId") or None,
                "QuotaCode": code,
                "QuotaName": request.get("QuotaName")
                or ACCELERATED_QUOTAS.get(code)
                or STANDARD_QUOTAS[code],
                "DesiredValue": request.get("DesiredValue"),
                "Status": request.get("Status", ""),
                "Created": created.isoformat(),
                "Requester": request.get("Requester"),
                "Accelerated": code in ACCELERATED_QUOTAS,
            }
        )
    return kept


QUOTA_REQUEST_COLLECTORS = [
    Collector(
        key="servicequotas.ec2_requests",
        fetch=fetch_quota_requests,
        regional=True,
        evidence=True,
        description=(
            "servicequotas:ListRequestedServiceQuotaChangeHistory (ec2): GPU/accelerated and standard vCPU "
            "quota increase requests of the last 7 days, hourly"
        ),
        freshness=QUOTAS_EVERY,
    ),
]
