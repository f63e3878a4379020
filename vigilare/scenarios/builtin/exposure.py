"""Built-in ``exposure`` scenario: S3 buckets and security groups open to the whole internet."""

from __future__ import annotations

from typing import Any

from vigilare.plugin import (
    CollectedData,
    Finding,
    Scenario,
    Severity,
    as_datetime,
    day_of,
    hookimpl,
    public_statements,
)

PUBLIC_GRANTEES = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "everyone (AllUsers)",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "any AWS user (AuthenticatedUsers)",
}
READ_PERMISSIONS = {"READ", "FULL_CONTROL"}
WRITE_PERMISSIONS = {"WRITE", "WRITE_ACP", "FULL_CONTROL"}
READ_ACTIONS = ("s3:GetObject", "s3:ListBucket")
WRITE_ACTIONS = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:PutBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
)

WORLD_CIDRS = {"0.0.0.0/0", "::/0"}
ADMINISTRATION_PORTS = {22: "SSH", 3389: "RDP"}
DATABASE_PORTS = {
    1433: "SQL Server",
    1521: "Oracle",
    2379: "etcd",
    3306: "MySQL",
    5432: "PostgreSQL",
    5984: "CouchDB",
    6379: "Redis",
    7000: "Cassandra",
    9042: "Cassandra",
    9200: "Elasticsearch",
    9300: "Elasticsearch",
    11211: "Memcached",
    27017: "MongoDB",
}
SENSITIVE_PORTS = {**ADMINISTRATION_PORTS, **DATABASE_PORTS}


class ExposureScenario(Scenario):
    id = "exposure"
    title = "Data and servers open to the whole internet"
    requires = (
        "s3.account_public_access_block",
        "s3.buckets",
        "ec2.security_groups",
        "ec2.network_interfaces",
    )
    emits = {
        "public_bucket_write": (Severity.CRITICAL,),
        "public_bucket_read": (Severity.HIGH,),
        "open_security_group": (Severity.HIGH,),
    }
    kind_requires = {
        "public_bucket_write": ("s3.buckets", "s3.account_public_access_block"),
        "public_bucket_read": ("s3.buckets", "s3.account_public_access_block"),
        "open_security_group": ("ec2.security_groups", "ec2.network_interfaces"),
    }
    remediation = (
        "Turn on S3 Block Public Access for the account; remove public ACL grants and public bucket "
        "policy statements; restrict security group rules to known addresses or use Session Manager."
    )
    docs_url = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"

    async def detect(self, data: CollectedData) -> list[Finding]:
        findings: list[Finding] = []
        if "s3.buckets" in data and "s3.account_public_access_block" in data:
            account_block = data.get("s3.account_public_access_block") or {}
            for bucket in data["s3.buckets"]:
                if not bucket.get("Incomplete"):
                    findings += self._bucket(bucket, account_block)
        for region, groups in sorted(data.per_region("ec2.security_groups").items()):
            interfaces = data.per_region("ec2.network_interfaces").get(region)
            if interfaces is None:
                continue  # without interfaces we cannot tell attached groups from spare ones
            findings += self._security_groups(data.account_id, region, groups, interfaces)
        return findings

    def _bucket(self, bucket: dict[str, Any], account_block: dict[str, bool]) -> list[Finding]:
        name = bucket["Name"]
        bucket_block = bucket.get("PublicAccessBlock") or {}

        def blocked(setting: str) -> bool:
            return bool(account_block.get(setting) or bucket_block.get(setting))

        grants = [] if blocked("IgnorePublicAcls") else bucket.get("Grants", [])
        policy = None if blocked("RestrictPublicBuckets") else bucket.get("Policy")
        created = as_datetime(bucket.get("CreationDate"))
        region = bucket.get("Region", "us-east-1")
        created_text = f" (created {day_of(created)})" if created else ""
        findings = []
        for kind, severity, verb, permissions, actions in (
            ("public_bucket_write", Severity.CRITICAL, "written to", WRITE_PERMISSIONS, WRITE_ACTIONS),
            ("public_bucket_read", Severity.HIGH, "read", READ_PERMISSIONS, READ_ACTIONS),
        ):
            reasons = [
                f"its ACL grants {grant['Permission']} to {PUBLIC_GRANTEES[grant['Grantee']['URI']]}"
                for grant in grants
                if grant.get("Grantee", {}).get("URI") in PUBLIC_GRANTEES
                and grant.get("Permission") in permissions
            ]
            statements = public_statements(policy, actions)
            reasons += [
                f"its bucket policy statement {statement.get('Sid') or '(no Sid)'} allows anyone"
                for statement in statements
            ]
            if not reasons:
                continue
            findings.append(
                self.finding(
                    kind=kind,
                    severity=severity,
                    title=f"S3 bucket {name} in {region} can be {verb} by anyone on the internet",
                    description=(
                        f"Bucket {name}{created_text} in {region} can be {verb} by anyone: "
                        f"{'; '.join(reasons)}. Block Public Access does not stop it (seen at this scan). "
                        "Turn on Block Public Access unless the bucket must be public."
                    ),
                    resource=f"arn:aws:s3:::{name}",
                    region=region,
                    details={"bucket": name, "reasons": reasons, "public_statements": statements},
                )
            )
        return findings

    def _security_groups(
        self, account: str, region: str, groups: list[dict[str, Any]], interfaces: list[dict[str, Any]]
    ) -> list[Finding]:
        attached: dict[str, int] = {}
        for interface in interfaces:
            for group in interface.get("Groups", []):
                attached[group["GroupId"]] = attached.get(group["GroupId"], 0) + 1
        findings = []
        for group in groups:
            group_id = group["GroupId"]
            if group_id not in attached:
                continue
            exposed = open_ports(group.get("IpPermissions", []))
            if not exposed:
                continue
            names = ", ".join(exposed)
            group_name = group.get("GroupName", "")
            findings.append(
                self.finding(
                    kind="open_security_group",
                    severity=Severity.HIGH,
                    title=(
                        f"Security group {group_id} ({group_name}) in {region} open to the internet "
                        f"on {names}"
                    ),
                    description=(
                        f"Security group {group_id} ({group_name}) in {region}, attached to "
                        f"{attached[group_id]} network interface(s), accepts connections from anywhere "
                        f"(0.0.0.0/0 or ::/0) on {names}, as seen at this scan. Restrict the rule to known "
                        "addresses, or reach servers through Session Manager or a VPN."
                    ),
                    resource=f"arn:aws:ec2:{region}:{account}:security-group/{group_id}",
                    region=region,
                    details={
                        "group_id": group_id,
                        "group_name": group_name,
                        "vpc_id": group.get("VpcId"),
                        "open_to_world": exposed,
                        "attached_interfaces": attached[group_id],
                    },
                )
            )
        return findings


def open_ports(permissions: list[dict[str, Any]]) -> list[str]:
    """Names of the sensitive exposures (all ports, SSH, RDP, databases) open to the world."""
    exposed: list[str] = []
    for permission in permissions:
        world = {entry.get("CidrIp") for entry in permission.get("IpRanges", [])}
        world |= {entry.get("CidrIpv6") for entry in permission.get("Ipv6Ranges", [])}
        if not world & WORLD_CIDRS:
            continue
        protocol = str(permission.get("IpProtocol", ""))
        low, high = permission.get("FromPort", 0), permission.get("ToPort", 65535)
        if protocol == "-1" or (protocol in {"tcp", "6"} and low <= 1 and high >= 65535):
            label = "all ports"
            if label not in exposed:
                exposed.insert(0, label)
            continue
        if protocol not in {"tcp", "6"}:
            continue
        for port, service in sorted(SENSITIVE_PORTS.items()):
            label = f"{port} ({service})"
            if low <= port <= high and label not in exposed:
                exposed.append(label)
    return exposed


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [ExposureScenario]
