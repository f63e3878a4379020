"""Account settings collectors: the SECURITY alternate contact and GuardDuty's detectors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from vigilare.plugin import Collector, CollectorContext


async def fetch_security_contact(ctx: CollectorContext) -> dict[str, Any] | None:
    """The SECURITY alternate contact (where AWS sends abuse and compromise notices), None if unset."""
    try:
        response = await ctx.call("account", "get_alternate_contact", AlternateContactType="SECURITY")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    contact: dict[str, Any] = response.get("AlternateContact", {})
    return contact


async def fetch_guardduty_detectors(ctx: CollectorContext) -> list[dict[str, Any]]:
    """The region's GuardDuty detectors, each GetDetector's answer with its ``DetectorId``."""
    detector_ids: list[str] = await ctx.paginate("guardduty", "list_detectors", "DetectorIds")
    detectors = []
    for detector_id in detector_ids:
        detector = await ctx.call("guardduty", "get_detector", DetectorId=detector_id)
        detector.pop("ResponseMetadata", None)
        detectors.append({"DetectorId": detector_id, **detector})
    return detectors


ACCOUNT_COLLECTORS = [
    Collector(
        key="account.security_contact",
        fetch=fetch_security_contact,
        evidence=True,
        description="account:GetAlternateContact (SECURITY)",
        freshness=timedelta(hours=1),
    ),
    Collector(
        key="guardduty.detectors",
        fetch=fetch_guardduty_detectors,
        regional=True,
        evidence=True,
        description="guardduty:ListDetectors + GetDetector",
        freshness=timedelta(hours=1),
    ),
]
