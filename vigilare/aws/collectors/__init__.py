"""Built-in collectors, registered as the ``aws-collectors`` plugin of the ``vigilare.scenarios`` group.

Data keys (each value as the collector stores it):

- ``iam.account_summary``: GetAccountSummary's SummaryMap.
- ``iam.credential_report``: the credential report as a list of row dicts (CSV column names).
- ``iam.quarantine_attachments``: ``{quarantine_policy_arn: {"users", "groups", "roles": [names]}}``.
- ``iam.users``: ``{"users": [...], "groups": {...}, "policies": {...}}`` (see ``fetch_users``).
- ``s3.account_public_access_block``: the account's Block Public Access settings or None.
- ``s3.buckets``: buckets with ``Region``, ``PublicAccessBlock``, ``Grants``, ``Policy``.
- regional ``ec2.security_groups``, ``ec2.network_interfaces``, ``ec2.instances``: lists per region.
- ``billing.estimated_charges``: month-to-date and last month's total (``AWS/Billing EstimatedCharges``).
- ``billing.cost_explorer``: daily costs per service and region, anomalies, and the spend baselines
  (cached in the scan state; Cost Explorer is asked at most once a day).
- regional ``ec2.compute_capacity``: instances with vCPUs and accelerators, spot requests, and the
  region's first use (scan state).
- regional ``guardduty.findings``: detectors with their status and open high-risk findings (polled
  incrementally through the scan state).
"""

from __future__ import annotations

from vigilare.aws.collectors.billing import BILLING_COLLECTORS
from vigilare.aws.collectors.compute import COMPUTE_COLLECTORS
from vigilare.aws.collectors.ec2 import EC2_COLLECTORS
from vigilare.aws.collectors.guardduty import GUARDDUTY_COLLECTORS
from vigilare.aws.collectors.iam import IAM_COLLECTORS
from vigilare.aws.collectors.s3 import S3_COLLECTORS
from vigilare.plugin import Collector, hookimpl


def builtin_collectors() -> dict[str, Collector]:
    every = [
        *IAM_COLLECTORS,
        *S3_COLLECTORS,
        *EC2_COLLECTORS,
        *BILLING_COLLECTORS,
        *COMPUTE_COLLECTORS,
        *GUARDDUTY_COLLECTORS,
    ]
    return {collector.key: collector for collector in every}


@hookimpl
def vigilare_collectors() -> list[Collector]:
    return list(builtin_collectors().values())
