"""The ``exposure`` scenario over in-memory data: public buckets and world-open security groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tests.support.findings import ACCOUNT_ID, NOW, kind_names
from vigilare.plugin import CollectionError, Finding, Severity
from vigilare.scanner import detect
from vigilare.scenarios.builtin.exposure import ExposureScenario
from vigilare.testing import collected_data

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def bucket(
    name: str = "shared-files",
    *,
    grants: Sequence[tuple[str, str]] = (),
    policy: dict[str, Any] | None = None,
    block: dict[str, bool] | None = None,
) -> dict[str, Any]:
    return {
        "Name": name,
        "CreationDate": NOW,
        "Region": "eu-west-1",
        "Grants": [{"Grantee": {"Type": "Group", "URI": uri}, "Permission": perm} for uri, perm in grants],
        "Policy": policy,
        "PublicAccessBlock": block,
    }


def public_policy(
    actions: Any, condition: dict[str, Any] | None = None, principal: Any = "*"
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": "Open", "Effect": "Allow", "Principal": principal, "Action": actions}
    statement["Resource"] = "arn:aws:s3:::shared-files/*"
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


async def bucket_findings(
    buckets: list[dict[str, Any]], account_block: dict[str, bool] | None = None
) -> list[Finding]:
    data = collected_data(
        {"s3.buckets": buckets, "s3.account_public_access_block": account_block},
        regional={"ec2.security_groups": {}, "ec2.network_interfaces": {}},
    )
    result = await detect(data, [ExposureScenario])
    assert result.outcomes["exposure"].status == "ok", result.outcomes["exposure"].error
    return result.findings


@pytest.mark.parametrize(
    ("grants", "expected"),
    [
        ([(ALL_USERS, "READ")], ["public_bucket_read"]),
        ([(AUTHENTICATED_USERS, "READ")], ["public_bucket_read"]),
        ([(ALL_USERS, "WRITE")], ["public_bucket_write"]),
        ([(ALL_USERS, "FULL_CONTROL")], ["public_bucket_read", "public_bucket_write"]),
        ([(ALL_USERS, "READ_ACP")], []),
        ([], []),
    ],
)
async def test_public_acl_grants(grants: list[tuple[str, str]], expected: list[str]) -> None:
    assert kind_names(await bucket_findings([bucket(grants=grants)])) == expected


async def test_public_read_is_high_and_public_write_is_critical() -> None:
    findings = {f.kind: f for f in await bucket_findings([bucket(grants=[(ALL_USERS, "FULL_CONTROL")])])}
    assert findings["public_bucket_read"].severity is Severity.HIGH
    assert findings["public_bucket_write"].severity is Severity.CRITICAL
    read = findings["public_bucket_read"]
    assert read.resource == "arn:aws:s3:::shared-files" and read.region == "eu-west-1"
    assert read.title == "S3 bucket shared-files in eu-west-1 can be read by anyone on the internet"


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (public_policy("s3:GetObject"), ["public_bucket_read"]),
        (public_policy(["s3:Get*"], principal={"AWS": "*"}), ["public_bucket_read"]),
        (public_policy("s3:PutObject"), ["public_bucket_write"]),
        (public_policy("s3:*"), ["public_bucket_read", "public_bucket_write"]),
        (public_policy("s3:GetObject", principal={"AWS": "arn:aws:iam::444455556666:root"}), []),
        (public_policy("s3:GetObject", condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}), []),
        (public_policy("s3:GetObject", condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}), []),
        (
            public_policy("s3:GetObject", condition={"Bool": {"aws:SecureTransport": "true"}}),
            ["public_bucket_read"],
        ),
    ],
    ids=["get", "get-star-aws-star", "put", "s3-star", "other-account", "source-ip", "org", "tls-only"],
)
async def test_public_bucket_policies(policy: dict[str, Any], expected: list[str]) -> None:
    assert kind_names(await bucket_findings([bucket(policy=policy)])) == expected


@pytest.mark.parametrize(
    ("account_block", "bucket_block", "expected"),
    [
        ({"IgnorePublicAcls": True, "RestrictPublicBuckets": True}, None, []),
        (None, {"IgnorePublicAcls": True, "RestrictPublicBuckets": True}, []),
        ({"IgnorePublicAcls": True}, None, ["public_bucket_read"]),  # the policy still opens it
        (None, {"RestrictPublicBuckets": True}, ["public_bucket_write"]),  # the ACL still opens it
        (
            {"BlockPublicAcls": True, "BlockPublicPolicy": True},
            None,
            ["public_bucket_read", "public_bucket_write"],
        ),
    ],
)
async def test_block_public_access_neutralises_what_it_covers(
    account_block: dict[str, bool] | None, bucket_block: dict[str, bool] | None, expected: list[str]
) -> None:
    # BlockPublicAcls / BlockPublicPolicy only stop *new* grants; existing ones stay effective.
    exposed = bucket(grants=[(ALL_USERS, "WRITE")], policy=public_policy("s3:GetObject"), block=bucket_block)
    assert kind_names(await bucket_findings([exposed], account_block)) == expected


async def test_a_bucket_whose_settings_could_not_be_read_is_not_judged() -> None:
    unreadable = {**bucket(grants=[(ALL_USERS, "READ")]), "Incomplete": True}
    assert await bucket_findings([unreadable]) == []


def group(group_id: str, *rules: tuple[str, int, int, str]) -> dict[str, Any]:
    permissions = []
    for protocol, low, high, cidr in rules:
        ranges = {"Ipv6Ranges": [{"CidrIpv6": cidr}]} if ":" in cidr else {"IpRanges": [{"CidrIp": cidr}]}
        permissions.append({"IpProtocol": protocol, "FromPort": low, "ToPort": high, **ranges})
    return {
        "GroupId": group_id,
        "GroupName": f"name-{group_id}",
        "VpcId": "vpc-1",
        "IpPermissions": permissions,
    }


def interface(*group_ids: str) -> dict[str, Any]:
    return {"NetworkInterfaceId": "eni-1", "Groups": [{"GroupId": group_id} for group_id in group_ids]}


async def group_findings(
    groups: list[dict[str, Any]], interfaces: list[dict[str, Any]], region: str = "eu-west-1"
) -> list[Finding]:
    data = collected_data(
        {"s3.buckets": [], "s3.account_public_access_block": None},
        regional={"ec2.security_groups": {region: groups}, "ec2.network_interfaces": {region: interfaces}},
    )
    result = await detect(data, [ExposureScenario])
    assert result.outcomes["exposure"].status == "ok", result.outcomes["exposure"].error
    return result.findings


@pytest.mark.parametrize(
    ("rule", "exposed"),
    [
        (("tcp", 22, 22, "0.0.0.0/0"), ["22 (SSH)"]),
        (("tcp", 3389, 3389, "0.0.0.0/0"), ["3389 (RDP)"]),
        (("tcp", 5432, 5432, "::/0"), ["5432 (PostgreSQL)"]),
        (("tcp", 3300, 3310, "0.0.0.0/0"), ["3306 (MySQL)"]),
        (("-1", -1, -1, "0.0.0.0/0"), ["all ports"]),
        (("tcp", 0, 65535, "0.0.0.0/0"), ["all ports"]),
        (("tcp", 443, 443, "0.0.0.0/0"), []),
        (("tcp", 22, 22, "10.0.0.0/8"), []),
        (("udp", 22, 22, "0.0.0.0/0"), []),
    ],
)
async def test_world_open_sensitive_ports(rule: tuple[str, int, int, str], exposed: list[str]) -> None:
    findings = await group_findings([group("sg-1", rule)], [interface("sg-1")])
    if not exposed:
        assert findings == []
        return
    [finding] = findings
    assert (finding.kind, finding.severity, finding.region) == (
        "open_security_group",
        Severity.HIGH,
        "eu-west-1",
    )
    assert finding.details["open_to_world"] == exposed
    assert finding.resource == f"arn:aws:ec2:eu-west-1:{ACCOUNT_ID}:security-group/sg-1"
    assert finding.title.startswith("Security group sg-1 (name-sg-1) in eu-west-1 open to the internet on ")


async def test_an_open_group_attached_to_nothing_is_not_a_finding() -> None:
    open_ssh = group("sg-1", ("tcp", 22, 22, "0.0.0.0/0"))
    assert await group_findings([open_ssh], [interface("sg-other")]) == []


async def test_a_region_whose_interfaces_failed_is_skipped_and_marked_incomplete() -> None:
    open_ssh = group("sg-1", ("tcp", 22, 22, "0.0.0.0/0"))
    data = collected_data(
        {"s3.buckets": [], "s3.account_public_access_block": None},
        regional={"ec2.security_groups": {"eu-west-1": [open_ssh]}, "ec2.network_interfaces": {}},
        errors=[
            CollectionError(key="ec2.network_interfaces", region="eu-west-1", error="InternalError: boom")
        ],
    )
    result = await detect(data, [ExposureScenario])
    assert result.findings == []
    assert result.outcomes["exposure"].status == "ok"
    assert result.outcomes["exposure"].data_complete is False
