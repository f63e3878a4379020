"""Public EBS snapshots and AMIs, per enabled region.

``ec2:DescribeSnapshots`` with ``OwnerIds=self`` and ``RestorableByUserIds=all`` lists only the
account's snapshots shared with everyone, and ``ec2:DescribeImages`` with ``Owners=self`` and
``ExecutableUsers=all`` its public images, so a region with nothing public costs two calls; each one
found is confirmed with ``DescribeSnapshotAttribute`` (``createVolumePermission``) or
``DescribeImageAttribute`` (``launchPermission``), group ``all``.
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html,
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshotAttribute.html,
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImageAttribute.html.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from vigilare.plugin import Collector, CollectorContext, as_datetime


def _public(permissions: list[dict[str, Any]]) -> bool:
    return any(permission.get("Group") == "all" for permission in permissions)


def _iso(value: Any) -> str | None:
    moment = as_datetime(value)
    return moment.isoformat() if moment else None


async def fetch_public_images(ctx: CollectorContext) -> dict[str, list[dict[str, Any]]]:
    """``{"snapshots": [{"SnapshotId", "VolumeId", "VolumeSize", "StartTime", "Encrypted", "Description"}],
    "images": [{"ImageId", "Name", "CreationDate"}]}``: the region's public ones."""
    candidates = await ctx.paginate(
        "ec2", "describe_snapshots", "Snapshots", OwnerIds=["self"], RestorableByUserIds=["all"]
    )
    snapshots = []
    for snapshot in candidates:
        attribute = await ctx.call(
            "ec2",
            "describe_snapshot_attribute",
            SnapshotId=snapshot["SnapshotId"],
            Attribute="createVolumePermission",
        )
        if _public(attribute.get("CreateVolumePermissions", [])):
            snapshots.append(
                {
                    "SnapshotId": snapshot["SnapshotId"],
                    "VolumeId": snapshot.get("VolumeId"),
                    "VolumeSize": snapshot.get("VolumeSize"),
                    "StartTime": _iso(snapshot.get("StartTime")),
                    "Encrypted": bool(snapshot.get("Encrypted")),
                    "Description": snapshot.get("Description", ""),
                }
            )
    images = []
    for image in await ctx.paginate(
        "ec2", "describe_images", "Images", Owners=["self"], ExecutableUsers=["all"]
    ):
        attribute = await ctx.call(
            "ec2", "describe_image_attribute", ImageId=image["ImageId"], Attribute="launchPermission"
        )
        if _public(attribute.get("LaunchPermissions", [])):
            images.append(
                {
                    "ImageId": image["ImageId"],
                    "Name": image.get("Name", ""),
                    "CreationDate": _iso(image.get("CreationDate")),
                }
            )
    return {"snapshots": snapshots, "images": images}


SHARING_COLLECTORS = [
    Collector(
        key="ec2.public_images",
        fetch=fetch_public_images,
        regional=True,
        evidence=True,
        description=(
            "ec2:DescribeSnapshots (self, restorable by all) + DescribeSnapshotAttribute, "
            "DescribeImages (self, executable by all) + DescribeImageAttribute"
        ),
        freshness=timedelta(hours=1),
    ),
]
