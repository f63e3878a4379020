"""Built-in collectors, registered as the ``aws-collectors`` plugin of the ``vigilare.scenarios`` group.

Data keys (each value as the collector stores it):

- ``iam.account_summary``: GetAccountSummary's SummaryMap.
- ``iam.credential_report``: the credential report as a list of row dicts (CSV column names).
- ``iam.quarantine_attachments``: ``{quarantine_policy_arn: {"users", "groups", "roles": [names]}}``.
- ``iam.users``: ``{"users": [...], "groups": {...}, "policies": {...}}`` (see ``fetch_users``).
- ``s3.account_public_access_block``: the account's Block Public Access settings or None.
- ``s3.buckets``: buckets with ``Region``, ``PublicAccessBlock``, ``Grants``, ``Policy``.
- regional ``ec2.security_groups``, ``ec2.network_interfaces``, ``ec2.instances``: lists per region.
"""

from __future__ import annotations

from vigilare.aws.collectors.ec2 import EC2_COLLECTORS
from vigilare.aws.collectors.iam import IAM_COLLECTORS
from vigilare.aws.collectors.s3 import S3_COLLECTORS
from vigilare.plugin import Collector, hookimpl


def builtin_collectors() -> dict[str, Collector]:
    return {collector.key: collector for collector in [*IAM_COLLECTORS, *S3_COLLECTORS, *EC2_COLLECTORS]}


@hookimpl
def vigilare_collectors() -> list[Collector]:
    return list(builtin_collectors().values())
