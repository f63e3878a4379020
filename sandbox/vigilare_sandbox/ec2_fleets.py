"""EC2 Fleet and Spot Fleet creation times, which moto leaves out.

AWS answers each fleet's ``createTime`` in DescribeFleets (``FleetData``:
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_FleetData.html) and each Spot Fleet
request's in DescribeSpotFleetRequests (``SpotFleetRequestConfig``:
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SpotFleetRequestConfig.html); moto answers
neither. The gateway stamps a fleet when its CreateFleet / RequestSpotFleet answer passes through
(on the moto object, so a moto reset forgets it) and adds ``createTime`` to the Describe answers;
``set_create_time`` backdates one for tests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

_ATTRIBUTE = "sandbox_create_time"
# (answer's item set, the item's id element, the moto backend's dict) per operation.
_DESCRIBED = {
    "DescribeFleets": ("fleetSet", "fleetId", "fleets"),
    "DescribeSpotFleetRequests": ("spotFleetRequestConfigSet", "spotFleetRequestId", "spot_fleet_requests"),
}
_CREATED = {
    "CreateFleet": ("fleetId", "fleets"),
    "RequestSpotFleet": ("spotFleetRequestId", "spot_fleet_requests"),
}
HANDLED = frozenset(_DESCRIBED) | frozenset(_CREATED)


def _backend(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def _parse(body: bytes) -> tuple[ET.Element, str]:
    root = ET.fromstring(body)  # noqa: S314 - moto's own answer, in process
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    ET.register_namespace("", namespace)
    return root, f"{{{namespace}}}" if namespace else ""


def _stamp(resource: Any, moment: datetime) -> datetime:
    created: datetime | None = getattr(resource, _ATTRIBUTE, None)
    if created is None:
        created = moment
        setattr(resource, _ATTRIBUTE, created)
    return created


def set_create_time(account_id: str, region: str, fleet_id: str, created: datetime) -> None:
    """Backdate a fleet (``fleet-...``) or Spot Fleet request (``sfr-...``) the sandbox holds."""
    backend = _backend(account_id, region)
    resource = backend.fleets.get(fleet_id) or backend.spot_fleet_requests.get(fleet_id)
    if resource is None:
        raise KeyError(f"no fleet {fleet_id} in {account_id} {region}")
    setattr(resource, _ATTRIBUTE, created)


def with_create_times(body: bytes, action: str, account_id: str, region: str) -> bytes:
    """Stamp a fleet just created, or add ``createTime`` to a Describe answer's fleets."""
    now = datetime.now(UTC)
    root, prefix = _parse(body)
    backend = _backend(account_id, region)
    if action in _CREATED:
        id_tag, objects = _CREATED[action]
        resource = getattr(backend, objects).get(root.findtext(f"{prefix}{id_tag}") or "")
        if resource is not None:
            _stamp(resource, now)
        return body
    set_tag, id_tag, objects = _DESCRIBED[action]
    items = root.find(f"{prefix}{set_tag}")
    if items is None:
        return body
    for item in items:
        resource = getattr(backend, objects).get(item.findtext(f"{prefix}{id_tag}") or "")
        if resource is None or item.find(f"{prefix}createTime") is not None:
            continue
        created = _stamp(resource, now)  # a fleet moto made before the gateway saw it: first seen
        ET.SubElement(item, f"{prefix}createTime").text = created.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
