"""Built-in ``sharing`` scenario: EBS snapshots and AMIs anyone may copy.

A public snapshot lets any AWS account create a volume from it, and a public AMI lets anyone launch
it: disk contents, keys and secrets baked into images leak this way, and attackers share a victim's
snapshots with themselves (or publicly) to take the data out. Each public snapshot or image: HIGH.
"""

from __future__ import annotations

from vigilare.plugin import CollectedData, Finding, Scenario, Severity, hookimpl, minute_of

SNAPSHOT_DOCS = "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-modifying-snapshot-permissions.html"
IMAGE_DOCS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/sharingamis-intro.html"


class SharingScenario(Scenario):
    id = "sharing"
    title = "EBS snapshots and AMIs shared with everyone"
    requires = ("ec2.public_images",)
    emits = {"public_snapshot": (Severity.HIGH,), "public_ami": (Severity.HIGH,)}
    remediation = "Make the snapshot or image private, unless it is meant for the public and holds no secret."
    docs_url = SNAPSHOT_DOCS

    async def detect(self, data: CollectedData) -> list[Finding]:
        account = data.account_id
        checked = minute_of(data.collected_at)
        findings = []
        for region, public in sorted(data.per_region("ec2.public_images").items()):
            for snapshot in (public or {}).get("snapshots") or []:
                snapshot_id = snapshot["SnapshotId"]
                size = f"{snapshot['VolumeSize']} GiB " if snapshot.get("VolumeSize") else ""
                encrypted = "encrypted" if snapshot.get("Encrypted") else "unencrypted"
                findings.append(
                    self.finding(
                        kind="public_snapshot",
                        severity=Severity.HIGH,
                        title=f"EBS snapshot {snapshot_id} in {region} is public",
                        description=(
                            f"Any AWS account can create a volume from the {size}{encrypted} snapshot "
                            f"{snapshot_id} (volume {snapshot.get('VolumeId') or 'unknown'}) in {region}, "
                            f"account {account} (checked {checked}). Whatever the disk held — data, keys, "
                            "passwords — is readable by anyone."
                        ),
                        resource=f"arn:aws:ec2:{region}::snapshot/{snapshot_id}",
                        region=region,
                        remediation=(
                            f"Remove the public permission: aws ec2 modify-snapshot-attribute --snapshot-id "
                            f"{snapshot_id} --attribute createVolumePermission --operation-type remove "
                            f"--group-names all --region {region}; then turn on EBS block public access."
                        ),
                        docs_url=SNAPSHOT_DOCS,
                        details=snapshot,
                    )
                )
            for image in (public or {}).get("images") or []:
                image_id = image["ImageId"]
                name = f" ({image['Name']})" if image.get("Name") else ""
                findings.append(
                    self.finding(
                        kind="public_ami",
                        severity=Severity.HIGH,
                        title=f"AMI {image_id}{name} in {region} is public",
                        description=(
                            f"Any AWS account can launch the image {image_id}{name} in {region}, account "
                            f"{account} (checked {checked}), and read its disks: secrets baked into an "
                            "image leak with it."
                        ),
                        resource=f"arn:aws:ec2:{region}::image/{image_id}",
                        region=region,
                        remediation=(
                            f"Make it private: aws ec2 modify-image-attribute --image-id {image_id} "
                            f'--launch-permission "Remove=[{{Group=all}}]" --region {region}; then turn on '
                            "block public access for AMIs."
                        ),
                        docs_url=IMAGE_DOCS,
                        details=image,
                    )
                )
        return findings


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [SharingScenario]
