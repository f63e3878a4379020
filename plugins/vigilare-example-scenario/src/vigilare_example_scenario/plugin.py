"""Flags EC2 instances that still answer IMDSv1, the metadata version SSRF attacks steal credentials from.

Everything comes from :mod:`vigilare.plugin`, the only module a plugin should import from Vigilare.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vigilare.plugin import (
    CollectedData,
    Collector,
    CollectorContext,
    Finding,
    Scenario,
    Severity,
    hookimpl,
)

LIVE_STATES = {"pending", "running", "stopping", "stopped"}


class Imdsv1Instances(Scenario):
    id = "imdsv1"
    title = "EC2 instances accepting IMDSv1"
    requires = ("ec2.instances",)  # a built-in data key: collected in every enabled region
    emits = {"imdsv1_enabled": (Severity.MEDIUM,)}
    remediation = (
        "Require IMDSv2: aws ec2 modify-instance-metadata-options --instance-id <id> "
        "--http-tokens required --http-endpoint enabled"
    )
    docs_url = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-existing-instances.html"
    time_budget_seconds = 10.0

    async def detect(self, data: CollectedData) -> list[Finding]:
        findings = []
        for region, instance in data.regional_items("ec2.instances"):
            if accepts_imdsv1(instance):
                findings.append(self._finding(data.account_id, region, instance))
        return findings

    def _finding(self, account_id: str, region: str, instance: dict[str, Any]) -> Finding:
        instance_id = instance["InstanceId"]
        name = next((tag["Value"] for tag in instance.get("Tags", []) if tag.get("Key") == "Name"), None)
        label = f"{instance_id} ({name})" if name else instance_id
        launched = instance.get("LaunchTime")
        since = f" since its launch on {_day(launched)}" if isinstance(launched, datetime) else ""
        return self.finding(
            kind="imdsv1_enabled",
            severity=Severity.MEDIUM,
            title=f"Instance {label} in {region} accepts IMDSv1{since}",
            description=(
                f"EC2 instance {label} in {region} answers instance-metadata requests without a session "
                f"token (IMDSv1){since}. A server-side request forgery in any application on it can read "
                "the instance role's credentials. Require IMDSv2."
            ),
            resource=f"arn:aws:ec2:{region}:{account_id}:instance/{instance_id}",
            region=region,
            details={"instance_id": instance_id, "instance_type": instance.get("InstanceType")},
        )


def accepts_imdsv1(instance: dict[str, Any]) -> bool:
    if instance.get("State", {}).get("Name") not in LIVE_STATES:
        return False
    options = instance.get("MetadataOptions", {})
    return options.get("HttpEndpoint", "enabled") == "enabled" and options.get("HttpTokens") != "required"


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


async def fetch_ebs_default_encryption(ctx: CollectorContext) -> bool:
    """Whether new EBS volumes in the region are encrypted by default (ec2:GetEbsEncryptionByDefault)."""
    response = await ctx.call("ec2", "get_ebs_encryption_by_default")
    return bool(response.get("EbsEncryptionByDefault"))


EBS_DEFAULT_ENCRYPTION = Collector(
    key="example.ebs_default_encryption",
    fetch=fetch_ebs_default_encryption,
    regional=True,
    description="ec2:GetEbsEncryptionByDefault",
    # A setting that rarely changes: a scheduled scan reads it again once it is 6 hours old (a
    # manual scan always does). Without `freshness`, it would be read at every scan.
    freshness=timedelta(hours=6),
)


class UnencryptedEbsDefault(Scenario):
    id = "ebs-default-encryption"
    title = "New EBS volumes not encrypted by default"
    requires = (EBS_DEFAULT_ENCRYPTION.key,)
    emits = {"ebs_default_unencrypted": (Severity.LOW,)}
    remediation = "aws ec2 enable-ebs-encryption-by-default --region <region>"
    docs_url = "https://docs.aws.amazon.com/ebs/latest/userguide/encryption-by-default.html"

    async def detect(self, data: CollectedData) -> list[Finding]:
        return [
            self.finding(
                kind="ebs_default_unencrypted",
                severity=Severity.LOW,
                title=f"New EBS volumes in {region} are not encrypted by default",
                description=(
                    f"In {region}, account {data.account_id} creates EBS volumes and snapshot copies "
                    "unencrypted unless each request asks otherwise."
                ),
                resource=f"arn:aws:ec2:{region}:{data.account_id}:ebs-encryption-by-default",
                region=region,
            )
            for region, encrypted in sorted(data.per_region(EBS_DEFAULT_ENCRYPTION.key).items())
            if encrypted is False
        ]


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [Imdsv1Instances, UnencryptedEbsDefault]


@hookimpl
def vigilare_collectors() -> list[Collector]:
    return [EBS_DEFAULT_ENCRYPTION]
