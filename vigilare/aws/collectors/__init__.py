"""Built-in collectors, registered as the ``aws-collectors`` plugin of the ``vigilare.scenarios`` group.

Data keys (each value as the collector stores it):

- ``iam.account_summary``: GetAccountSummary's SummaryMap.
- ``iam.credential_report``: the credential report as a list of row dicts (CSV column names).
- ``iam.quarantine_attachments``: ``{quarantine_policy_arn: {"users", "groups", "roles": [names]}}``.
- ``iam.users``: ``{"users": [...], "groups": {...}, "policies": {...}}`` (see ``fetch_users``).
- ``s3.account_public_access_block``: the account's Block Public Access settings or None.
- ``s3.buckets``: buckets with ``Region``, ``PublicAccessBlock``, ``Grants``, ``Policy``.
- ``health.events``: open RISK/ABUSE Health events with ``description``, ``metadata``, ``entities``;
  None when the support plan has no Health API (capability ``health_api`` recorded unavailable).
- ``iam.role_trusts``: roles with their trust policies and the accounts the customer knows (this
  account, Vigilare's sentinel, the organization's); ``iam.identity_providers``: SAML and OIDC
  providers with their creation dates.
- ``account.security_contact``: the SECURITY alternate contact, or None when there is none.
- regional ``cloudtrail.trails``: trails homed in the region (organization trails included, marked
  ``OrganizationTrail`` and ``ManagedBy``), each with its ``Status``.
- regional ``cloudtrail.events``: ``{"console_logins": [...], "trail_changes": [...]}`` records.
- regional ``cloudtrail.write_events``: ``{"events": [...], "checked_until"}``: risky write calls of
  the last 24 hours (IAM, account and organization calls in us-east-1, GuardDuty and flow-log
  deletions in each region), refreshed at most hourly through the scan state.
- regional ``ec2.public_images``: ``{"snapshots": [...], "images": [...]}``, the region's snapshots
  and AMIs shared with everyone.
- ``account.contacts``: the primary and alternate contacts, with the fields changed since earlier
  scans (hashes in the scan state); ``iam.access_key_regions``: each active key's last-used region
  and the regions it has been seen used from (scan state).
- regional ``bedrock.usage``: Bedrock invocations and tokens of the last 24 hours and per day over
  the 14 days before (``AWS/Bedrock``), refreshed at most hourly.
- regional ``ses.account``: SESv2 GetAccount; ``ses.reputation``: latest bounce/complaint rates
  (both None in regions without SES).
- regional ``guardduty.detectors``: GetDetector answers with ``DetectorId``.
- regional ``ec2.security_groups``, ``ec2.network_interfaces``, ``ec2.instances``: lists per region.
- ``billing.estimated_charges``: month-to-date and last month's total (``AWS/Billing EstimatedCharges``);
  None when the account publishes no billing metric (capability ``billing_metric`` unavailable).
- ``billing.cost_explorer``: daily costs (before credits and refunds) per service and region,
  anomalies, and the spend baselines (cached in the scan state; asked at most once a day).
- ``billing.invoices``: the open invoices (AWS Payments), each with its due date, due status,
  amount and outstanding balance; None when AWS Payments refuses the account or the role
  (capability ``payments_api`` unavailable). Read every 6 hours.
- regional ``ec2.compute_capacity``: instances with vCPUs and accelerators, spot requests, and the
  region's first use (scan state).
- regional ``ec2.fleet_requests``: EC2 Fleets and Spot Fleet requests with their target capacity and
  the instance types they may launch (vCPUs, accelerators), hourly.
- regional ``servicequotas.ec2_requests``: EC2 vCPU quota increase requests (GPU/accelerated and
  standard families) of the last 7 days, hourly; None where Service Quotas is not offered.
- regional ``lightsail.instances``: Lightsail instances with the region's first Lightsail use (scan
  state), hourly; None where Lightsail is not offered.
- regional ``sagemaker.compute``: InService notebooks, InProgress training jobs and InService
  endpoints with their instances (type, count, vCPUs, accelerators), and the region's SageMaker
  first use (scan state); ``containers.compute``: Batch compute environments and ECS clusters (with
  running tasks' start times where the region has no container baseline); ``workloads.metrics``:
  Lambda concurrency and Fargate vCPUs, the last 24 hours' peak against 14 daily peaks (see
  ``workloads``; hourly).
- regional ``guardduty.findings``: detectors with their status and open high-risk findings (polled
  incrementally through the scan state).

Event handlers that turn pushed events into a collector's data shape live beside that collector
(GuardDuty findings: ``guardduty.GuardDutyFindingHandler``).
"""

from __future__ import annotations

from vigilare.aws.collectors.account import ACCOUNT_COLLECTORS
from vigilare.aws.collectors.bedrock import BEDROCK_COLLECTORS
from vigilare.aws.collectors.billing import BILLING_COLLECTORS
from vigilare.aws.collectors.cloudtrail import CLOUDTRAIL_COLLECTORS
from vigilare.aws.collectors.compute import COMPUTE_COLLECTORS
from vigilare.aws.collectors.ec2 import EC2_COLLECTORS
from vigilare.aws.collectors.fleets import FLEET_COLLECTORS
from vigilare.aws.collectors.guardduty import GUARDDUTY_COLLECTORS, GUARDDUTY_EVENT_HANDLERS
from vigilare.aws.collectors.health import HEALTH_COLLECTORS
from vigilare.aws.collectors.iam import IAM_COLLECTORS
from vigilare.aws.collectors.invoices import INVOICE_COLLECTORS
from vigilare.aws.collectors.lightsail import LIGHTSAIL_COLLECTORS
from vigilare.aws.collectors.persistence import PERSISTENCE_COLLECTORS
from vigilare.aws.collectors.quota_requests import QUOTA_REQUEST_COLLECTORS
from vigilare.aws.collectors.s3 import S3_COLLECTORS
from vigilare.aws.collectors.ses import SES_COLLECTORS
from vigilare.aws.collectors.sharing import SHARING_COLLECTORS
from vigilare.aws.collectors.takeover import TAKEOVER_COLLECTORS
from vigilare.aws.collectors.trail_writes import TRAIL_WRITE_COLLECTORS
from vigilare.aws.collectors.workloads import WORKLOAD_COLLECTORS
from vigilare.plugin import Collector, EventHandler, hookimpl


def builtin_collectors() -> dict[str, Collector]:
    collectors = [
        *IAM_COLLECTORS,
        *S3_COLLECTORS,
        *EC2_COLLECTORS,
        *BILLING_COLLECTORS,
        *INVOICE_COLLECTORS,
        *COMPUTE_COLLECTORS,
        *FLEET_COLLECTORS,
        *QUOTA_REQUEST_COLLECTORS,
        *LIGHTSAIL_COLLECTORS,
        *GUARDDUTY_COLLECTORS,
        *HEALTH_COLLECTORS,
        *CLOUDTRAIL_COLLECTORS,
        *SES_COLLECTORS,
        *ACCOUNT_COLLECTORS,
        *PERSISTENCE_COLLECTORS,
        *TRAIL_WRITE_COLLECTORS,
        *SHARING_COLLECTORS,
        *TAKEOVER_COLLECTORS,
        *BEDROCK_COLLECTORS,
        *WORKLOAD_COLLECTORS,
    ]
    keys = [collector.key for collector in collectors]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise RuntimeError(f"built-in collectors register the same data key twice: {duplicates}")
    return {collector.key: collector for collector in collectors}


@hookimpl
def vigilare_collectors() -> list[Collector]:
    return list(builtin_collectors().values())


@hookimpl
def vigilare_event_handlers() -> list[type[EventHandler]]:
    """Event handlers that need a collector's knowledge of the data (GuardDuty's critical types)."""
    return list(GUARDDUTY_EVENT_HANDLERS)
