"""What the fake AWS services know, per AWS account.

Records are plain dataclasses holding the values AWS would return; the service modules render them
onto the wire. Every account starts empty on first use (AWS accounts always "exist"), with Business
support so the Health API answers unless a test says otherwise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class SupportPlan(StrEnum):
    BASIC = "basic"
    DEVELOPER = "developer"
    BUSINESS = "business"
    ENTERPRISE = "enterprise"

    @property
    def includes_health_api(self) -> bool:
        return self in (SupportPlan.BUSINESS, SupportPlan.ENTERPRISE)


@dataclass
class HealthEvent:
    arn: str
    service: str  # "RISK", "ABUSE", "EC2", ...
    event_type_code: str
    event_type_category: str  # issue | accountNotification | scheduledChange | investigation
    region: str
    start_time: datetime
    last_updated_time: datetime
    status_code: str  # open | closed | upcoming
    description: str
    end_time: datetime | None = None
    event_scope_code: str = "ACCOUNT_SPECIFIC"
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class AffectedEntity:
    event_arn: str
    entity_value: str
    entity_arn: str
    last_updated_time: datetime
    status_code: str = "IMPAIRED"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class TrailEvent:
    region: str
    event_id: str
    event_name: str
    event_time: datetime
    event_source: str
    username: str | None
    read_only: bool
    access_key_id: str | None
    resources: list[tuple[str, str]]  # (ResourceType, ResourceName)
    record: dict[str, Any]  # the full CloudTrail record, served as the CloudTrailEvent JSON string


@dataclass
class GuardDutyFinding:
    id: str
    detector_id: str
    account_id: str
    region: str
    type: str
    severity: float
    title: str
    description: str
    created_at: datetime
    updated_at: datetime
    resource: dict[str, Any]  # wire-shaped (camelCase), e.g. {"resourceType": "Instance", ...}
    action: dict[str, Any] = field(default_factory=dict)
    archived: bool = False
    count: int = 1
    confidence: float = 8.0


@dataclass
class CostAnomaly:
    anomaly_id: str
    monitor_arn: str
    start_date: date
    end_date: date | None
    dimension_value: str
    max_impact: float
    total_impact: float
    total_actual_spend: float
    total_expected_spend: float
    max_score: float
    current_score: float
    root_causes: list[dict[str, Any]] = field(default_factory=list)  # wire-shaped RootCause items
    feedback: str | None = None


@dataclass
class SesAccount:
    """Defaults are what a new AWS account sees: SES sandbox, healthy."""

    enforcement_status: str = "HEALTHY"  # HEALTHY | PROBATION | SHUTDOWN
    sending_enabled: bool = True
    production_access_enabled: bool = False
    max_24_hour_send: float = 200.0
    max_send_rate: float = 1.0
    sent_last_24_hours: float = 0.0


@dataclass
class CredentialReport:
    started_at: datetime
    content: bytes | None = None  # the GetCredentialReport answer, fixed when first read


@dataclass
class OrganizationTrail:
    name: str
    management_account: str
    home_region: str = "us-east-1"
    is_logging: bool = True

    @property
    def arn(self) -> str:
        return f"arn:aws:cloudtrail:{self.home_region}:{self.management_account}:trail/{self.name}"


@dataclass
class CostLine:
    """One day's cost of a service in a region, of one Cost Explorer RECORD_TYPE."""

    day: date
    service: str
    region: str
    amount: float
    record_type: str = "Usage"  # Usage | Credit | Refund | Tax | ...


@dataclass
class Invoice:
    """One AWS invoice as AWS Payments holds it (a financial record of type INVOICE).

    ``status``: OUTSTANDING (something left to pay), PROCESSING (a payment under way), SETTLED or
    CANCELED. Amounts are decimal strings, as the API's ``CurrencyAmount.value``.
    """

    record_id: str  # AWS Payments' id, e.g. INV-5364-6253-7364-1342
    invoice_id: str  # AWS Invoicing's document number
    amount: str
    due_date: date
    issued_at: datetime
    status: str = "OUTSTANDING"
    settled: str = "0.00"
    currency: str = "USD"


@dataclass
class QuotaRequest:
    """One Service Quotas increase request (``RequestedServiceQuotaChange``), in its region."""

    id: str
    region: str
    service_code: str
    quota_code: str
    quota_name: str
    desired_value: float
    status: str  # PENDING | CASE_OPENED | APPROVED | DENIED | CASE_CLOSED | NOT_APPROVED | INVALID_REQUEST
    created: datetime
    case_id: str = ""
    requester: str = ""


@dataclass
class LightsailInstance:
    """One Lightsail instance (virtual private server), in its region."""

    name: str
    region: str
    bundle_id: str
    blueprint_id: str
    created_at: datetime
    state: str = "running"  # pending | running | stopping | stopped | ...
    cpu_count: int = 2
    ram_size_gb: float = 1.0


@dataclass
class AccountState:
    support_plan: SupportPlan = SupportPlan.BUSINESS
    health_events: dict[str, HealthEvent] = field(default_factory=dict)
    affected_entities: list[AffectedEntity] = field(default_factory=list)
    trail_events: list[TrailEvent] = field(default_factory=list)
    findings: dict[str, GuardDutyFinding] = field(default_factory=dict)
    anomalies: list[CostAnomaly] = field(default_factory=list)
    ses_by_region: dict[str, SesAccount] = field(default_factory=dict)
    # Account Management's primary contact; None answers the default one (fake_account).
    contact_information: dict[str, str] | None = None
    # The root user, as the credential report's root row and GetAccountSummary show it (moto has
    # no root row, and its summary always says MFA off, no keys). A root whose credentials are
    # managed centrally by the organization has no password, no keys and no MFA.
    root_mfa: bool = True
    root_access_keys: bool = False
    root_password: bool = True
    # The credential report as last generated: AWS serves that copy until it is 4 hours old.
    credential_report: CredentialReport | None = None
    # Organization trails (the management account's) that this member account sees as shadows.
    organization_trails: list[OrganizationTrail] = field(default_factory=list)
    # Regions where a service control policy denies every action (explicit deny).
    scp_denied_regions: set[str] = field(default_factory=set)
    # Actions ("ec2:DescribeFleets") the Vigilare role's policies do not grant: a role set up before
    # the action was added to the onboarding policy.
    role_lacks: set[str] = field(default_factory=set)
    # Cost and usage lines with their record type; when set, the fake answers GetCostAndUsage.
    cost_lines: list[CostLine] = field(default_factory=list)
    # AWS Payments: the account's invoices, and the AccessDeniedException reason it answers instead
    # (INVALID_ACCOUNT_STATE for a member account whose management account pays; NOT_AUTHORIZED).
    invoices: list[Invoice] = field(default_factory=list)
    payments_refusal: str | None = None
    # Service Quotas increase requests and Lightsail instances (moto has neither).
    quota_requests: list[QuotaRequest] = field(default_factory=list)
    lightsail_instances: list[LightsailInstance] = field(default_factory=list)
    # ECS tasks the fake's ECS reads answer from (fake_ecs: moto's tasks never reach RUNNING).
    ecs_tasks: list[EcsTask] = field(default_factory=list)


@dataclass
class EcsTask:
    region: str
    cluster_name: str
    task_arn: str
    started_at: datetime
    launch_type: str = "FARGATE"
    cpu: str = "1024"  # CPU units: 1024 is one vCPU
    last_status: str = "RUNNING"
    desired_status: str = "RUNNING"


@dataclass
class _ThrottleRule:
    service: str
    operation: str | None
    account_id: str | None
    remaining: int


class FakeState:
    """All accounts' fake data plus injected throttling; safe to use from the gateway's threads."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._accounts: dict[str, AccountState] = {}
        self._throttles: list[_ThrottleRule] = []

    def account(self, account_id: str) -> AccountState:
        """The account's state, created empty on first use. Hold `lock` while reading or mutating."""
        with self.lock:
            return self._accounts.setdefault(account_id, AccountState())

    def reset(self) -> None:
        with self.lock:
            self._accounts.clear()
            self._throttles.clear()

    def inject_throttling(
        self, service: str, count: int, operation: str | None = None, account_id: str | None = None
    ) -> None:
        """Make the next `count` calls to a fake `service` be throttled, optionally only one
        operation and/or one account's calls.

        `service` is the signing name: "health", "cloudtrail", "guardduty", "ce" or "ses".
        """
        with self.lock:
            self._throttles.append(_ThrottleRule(service, operation, account_id, count))

    def take_throttle(self, service: str, operation: str, account_id: str) -> bool:
        """Consume one injected throttle matching this call, if any."""
        with self.lock:
            for rule in self._throttles:
                if (
                    rule.remaining > 0
                    and rule.service == service
                    and rule.operation in (None, operation)
                    and rule.account_id in (None, account_id)
                ):
                    rule.remaining -= 1
                    return True
            return False

    def clear_throttling(self) -> None:
        with self.lock:
            self._throttles.clear()

    def pending_throttles(self, service: str) -> int:
        with self.lock:
            return sum(rule.remaining for rule in self._throttles if rule.service == service)
