"""EC2 DescribeSnapshots' owner and create-volume-permission filters, which moto ignores.

AWS returns only the snapshots matching every option given: ``OwnerIds`` (account ids, ``self``,
``amazon``) and ``RestorableByUserIds`` (account ids, ``self``, or ``all`` for the snapshots shared
publicly), so ``OwnerIds=self, RestorableByUserIds=all`` lists exactly the account's public snapshots
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html). moto answers
every snapshot whatever was asked; the gateway drops the ones AWS would not return.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any


def _listed(form: dict[str, str], prefix: str) -> list[str]:
    return [value for key, value in sorted(form.items()) if key.startswith(f"{prefix}.")]


def snapshot_is_returned(snapshot: Any, account_id: str, owners: list[str], restorable_by: list[str]) -> bool:
    owner = str(getattr(snapshot, "owner_id", account_id))
    if owners and not any(owner == (account_id if wanted == "self" else wanted) for wanted in owners):
        return False
    if not restorable_by:
        return True
    groups = set(getattr(snapshot, "create_volume_permission_groups", set()))
    user_ids = set(getattr(snapshot, "create_volume_permission_userids", set()))
    for wanted in restorable_by:
        if wanted == "all" and "all" in groups:
            return True
        if wanted == "self" and (owner == account_id or account_id in user_ids or "all" in groups):
            return True
        if wanted in user_ids:
            return True
    return False


def filter_describe_snapshots(body: bytes, form: dict[str, str], account_id: str, region: str) -> bytes:
    """moto's DescribeSnapshots answer without the snapshots AWS would not have returned."""
    owners = _listed(form, "Owner")
    restorable_by = _listed(form, "RestorableBy")
    if not owners and not restorable_by:
        return body
    from moto.ec2.models import ec2_backends

    snapshots = ec2_backends[account_id][region].snapshots
    root = ET.fromstring(body)  # noqa: S314 - moto's own answer, in process
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    ET.register_namespace("", namespace)
    prefix = f"{{{namespace}}}" if namespace else ""
    snapshot_set = root.find(f"{prefix}snapshotSet")
    if snapshot_set is None:
        return body
    for item in list(snapshot_set):
        snapshot_id = item.findtext(f"{prefix}snapshotId") or ""
        snapshot = snapshots.get(snapshot_id)
        if snapshot is None or not snapshot_is_returned(snapshot, account_id, owners, restorable_by):
            snapshot_set.remove(item)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
