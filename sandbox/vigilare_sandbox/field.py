"""AWS behaviours real accounts show and moto does not, applied by the gateway around moto.

Each is imitated as the AWS reference documents it (the page is named beside it):

- CloudWatch ``GetMetricStatistics`` returns no data points unless the period suits the start
  time's age: a multiple of 60 s up to 15 days ago, 300 s for 15-63 days, 3600 s beyond.
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html
- CloudTrail ``DescribeTrails`` shows a member account its organization's trail (``IsOrganizationTrail``,
  the management account's ARN) only with ``includeShadowTrails`` (true by default); its status
  is readable by ARN.
  https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_DescribeTrails.html
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/creating-trail-organization.html
- IAM ``GetAccountSummary`` reports the root user's ``AccountMFAEnabled``,
  ``AccountAccessKeysPresent`` and ``AccountPasswordPresent`` as they are now (a centrally managed
  root has no password, no keys, no MFA).
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountSummary.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html#id_root-user-access-management
- IAM ``GenerateCredentialReport`` answers STARTED, then COMPLETE; the report is a copy made at
  generation and is regenerated only when it is more than 4 hours old.
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_GenerateCredentialReport.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html
- A service control policy that denies a region answers every call there with an access-denied
  error whose message ends "with an explicit deny in a service control policy"; an action the
  role's policies do not grant, with one that ends "because no identity-based policy allows the
  <action> action" (an implicit deny).
  https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
- Cost Explorer ``GetCostAndUsage`` nets credits and refunds into ``UnblendedCost`` unless the
  request filters on the ``RECORD_TYPE`` dimension.
  https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetCostAndUsage.html
  https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetDimensionValues.html
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from vigilare_sandbox.state import AccountState, CostLine, CredentialReport
from vigilare_sandbox.wire import WireRequest, WireResponse, json11_error, json11_ok, rest_json_error

CREDENTIAL_REPORT_MAX_AGE = timedelta(hours=4)
CLOUDTRAIL_TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
CE_COST_AND_USAGE_TARGET = "AWSInsightsIndexService.GetCostAndUsage"
_IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
_CLOUDWATCH_NS = "http://monitoring.amazonaws.com/doc/2010-08-01/"
# IAM action prefixes that differ from the SigV4 signing name.
_IAM_PREFIX = {"monitoring": "cloudwatch"}
_SUMMARY_ENTRY = re.compile(rb"<entry>\s*<key>(\w+)</key>\s*<value>-?\d+</value>\s*</entry>")


def _request_id() -> str:
    return str(uuid.uuid4())


def _query_ok(action: str, namespace: str, result_xml: str) -> WireResponse:
    body = (
        f'<{action}Response xmlns="{namespace}"><{action}Result>{result_xml}</{action}Result>'
        f"<ResponseMetadata><RequestId>{_request_id()}</RequestId></ResponseMetadata></{action}Response>"
    )
    return WireResponse(200, body.encode(), {"Content-Type": "text/xml"})


def _operation(request: WireRequest) -> str:
    if request.target:
        return request.target.rsplit(".", 1)[-1]
    return request.form().get("Action", "")


# SCP explicit deny --------------------------------------------------------------------------


def policy_denial(request: WireRequest, account: AccountState, principal: str) -> WireResponse | None:
    """AWS's answer to a call a policy denies, in the service's own error shape (JSON, query, EC2,
    REST-JSON, REST-XML): any call in a region a service control policy denies (an explicit deny),
    or an action the role's own policies do not grant (an implicit deny: "because no
    identity-based policy allows the ... action")."""
    assert request.scope is not None
    service = request.scope.service
    if service == "sts":
        return None
    operation = _operation(request) or request.path.rstrip("/").rsplit("/", 1)[-1] or "*"
    action = f"{_IAM_PREFIX.get(service, service)}:{operation}"
    if request.scope.region in account.scp_denied_regions:
        why = "with an explicit deny in a service control policy"
    elif action in account.role_lacks:
        why = f"because no identity-based policy allows the {action} action"
    else:
        return None
    return _access_denied(
        request, f"User: {principal} is not authorized to perform: {action} on resource: * {why}"
    )


def _access_denied(request: WireRequest, message: str) -> WireResponse:
    assert request.scope is not None
    service = request.scope.service
    if request.target:
        return json11_error(400, "AccessDeniedException", message)
    if service == "ec2":
        body = (
            "<Response><Errors><Error><Code>UnauthorizedOperation</Code>"
            f"<Message>You are not authorized to perform this operation. {escape(message)}</Message>"
            f"</Error></Errors><RequestID>{_request_id()}</RequestID></Response>"
        )
        return WireResponse(403, body.encode(), {"Content-Type": "text/xml"})
    if "Action" in request.form():
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{_request_id()}</RequestId></ErrorResponse>"
        )
        return WireResponse(403, body.encode(), {"Content-Type": "text/xml"})
    if service == "s3":
        body = f"<Error><Code>AccessDenied</Code><Message>{escape(message)}</Message></Error>"
        return WireResponse(403, body.encode(), {"Content-Type": "application/xml"})
    return rest_json_error(403, "AccessDeniedException", message)


# CloudWatch period rule ---------------------------------------------------------------------


def required_period_multiple(start: datetime, now: datetime) -> int:
    age = now - start
    if age <= timedelta(days=15):
        return 60
    if age <= timedelta(days=63):
        return 300
    return 3600


def cloudwatch_period_refusal(request: WireRequest, now: datetime) -> WireResponse | None:
    """No data points when the period does not suit the start time's age (as AWS answers)."""
    form = request.form()
    if form.get("Action") != "GetMetricStatistics":
        return None
    try:
        start = datetime.fromisoformat(form["StartTime"].replace("Z", "+00:00"))
        period = int(form["Period"])
    except (KeyError, ValueError):
        return None  # moto answers the validation error
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if period % required_period_multiple(start, now) == 0:
        return None
    label = escape(form.get("MetricName", ""))
    return _query_ok("GetMetricStatistics", _CLOUDWATCH_NS, f"<Label>{label}</Label><Datapoints/>")


# CloudTrail organization trails -------------------------------------------------------------


def _organization_trail_wire(account: AccountState) -> list[dict[str, Any]]:
    return [
        {
            "Name": trail.name,
            "S3BucketName": f"aws-controltower-logs-{trail.management_account}",
            "IncludeGlobalServiceEvents": True,
            "IsMultiRegionTrail": True,
            "HomeRegion": trail.home_region,
            "TrailARN": trail.arn,
            "LogFileValidationEnabled": True,
            "HasCustomEventSelectors": False,
            "HasInsightSelectors": False,
            "IsOrganizationTrail": True,
        }
        for trail in account.organization_trails
    ]


def organization_trail_status(request: WireRequest, account: AccountState) -> WireResponse | None:
    if request.target != CLOUDTRAIL_TARGET_PREFIX + "GetTrailStatus":
        return None
    name = request.json_body().get("Name")
    for trail in account.organization_trails:
        if name == trail.arn:
            return json11_ok({"IsLogging": trail.is_logging})
    return None


def with_organization_trails(request: WireRequest, account: AccountState, body: bytes) -> bytes:
    """DescribeTrails: the organization's trails join the member's own unless shadows are excluded
    or named trails were asked for."""
    if request.target != CLOUDTRAIL_TARGET_PREFIX + "DescribeTrails" or not account.organization_trails:
        return body
    params = request.json_body()
    if params.get("includeShadowTrails") is False or params.get("trailNameList"):
        return body
    answer = json.loads(body or b"{}")
    answer["trailList"] = [*answer.get("trailList", []), *_organization_trail_wire(account)]
    return json.dumps(answer).encode()


# IAM: the account summary and the credential report -----------------------------------------


def account_summary(body: bytes, account: AccountState) -> bytes:
    """moto's summary with the root user's flags as they are now (and AccountPasswordPresent)."""
    flags = {
        b"AccountMFAEnabled": int(account.root_mfa),
        b"AccountAccessKeysPresent": int(account.root_access_keys),
        b"AccountPasswordPresent": int(account.root_password),
    }
    seen: set[bytes] = set()

    def replace(match: re.Match[bytes]) -> bytes:
        key = match.group(1)
        if key not in flags:
            return match.group(0)
        seen.add(key)
        return b"<entry><key>%s</key><value>%d</value></entry>" % (key, flags[key])

    body = _SUMMARY_ENTRY.sub(replace, body)
    missing = b"".join(
        b"<entry><key>%s</key><value>%d</value></entry>" % (key, value)
        for key, value in flags.items()
        if key not in seen
    )
    return body.replace(b"</SummaryMap>", missing + b"</SummaryMap>", 1)


def generate_credential_report(account: AccountState, now: datetime) -> WireResponse:
    """STARTED when a new report is begun (none yet, or the last is over 4 hours old), else COMPLETE."""
    report = account.credential_report
    if report is None or now - report.started_at > CREDENTIAL_REPORT_MAX_AGE:
        account.credential_report = CredentialReport(started_at=now)
        result = (
            "<State>STARTED</State>"
            "<Description>No report exists. Starting a new report generation task</Description>"
        )
    else:
        result = "<State>COMPLETE</State>"
    return _query_ok("GenerateCredentialReport", _IAM_NS, result)


def credential_report_copy(account: AccountState, fresh_body: bytes) -> bytes:
    """The copy made at generation: what changed since shows only in the next report."""
    report = account.credential_report
    if report is None:
        return fresh_body
    if report.content is None:
        generated = report.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        report.content = re.sub(
            rb"<GeneratedTime>[^<]*</GeneratedTime>",
            b"<GeneratedTime>" + generated.encode() + b"</GeneratedTime>",
            fresh_body,
        )
    return report.content


# Cost Explorer: record types ----------------------------------------------------------------


def _matches(expression: dict[str, Any], line: CostLine) -> bool:
    if "And" in expression:
        return all(_matches(part, line) for part in expression["And"])
    if "Or" in expression:
        return any(_matches(part, line) for part in expression["Or"])
    if "Not" in expression:
        return not _matches(expression["Not"], line)
    dimensions = expression.get("Dimensions")
    if dimensions:
        value = {"RECORD_TYPE": line.record_type, "SERVICE": line.service, "REGION": line.region}.get(
            dimensions.get("Key", "")
        )
        return value in dimensions.get("Values", [])
    return True


def cost_and_usage(account: AccountState, body: dict[str, Any], today: date) -> WireResponse:
    """DAILY costs grouped by up to two dimensions; credits count unless filtered out."""
    try:
        start = date.fromisoformat(body["TimePeriod"]["Start"])
        end = date.fromisoformat(body["TimePeriod"]["End"])
    except (KeyError, ValueError):
        return json11_error(400, "ValidationException", "TimePeriod Start and End must be YYYY-MM-DD")
    metrics = body.get("Metrics") or []
    if not metrics:
        return json11_error(400, "ValidationException", "Metrics is required")
    group_keys = [group["Key"] for group in body.get("GroupBy") or []]
    expression = body.get("Filter") or {}
    results = []
    day = start
    while day < end:
        sums: dict[tuple[str, ...], float] = defaultdict(float)
        for line in account.cost_lines:
            if line.day == day and _matches(expression, line):
                values = {"SERVICE": line.service, "REGION": line.region, "RECORD_TYPE": line.record_type}
                sums[tuple(values.get(key, "") for key in group_keys)] += line.amount
        results.append(
            {
                "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                "Total": {}
                if group_keys
                else {metric: {"Amount": f"{sum(sums.values()):.10f}", "Unit": "USD"} for metric in metrics},
                "Groups": [
                    {
                        "Keys": list(keys),
                        "Metrics": {
                            metric: {"Amount": f"{amount:.10f}", "Unit": "USD"} for metric in metrics
                        },
                    }
                    for keys, amount in sorted(sums.items())
                ]
                if group_keys
                else [],
                "Estimated": day >= today - timedelta(days=1),
            }
        )
        day += timedelta(days=1)
    return json11_ok(
        {
            "GroupDefinitions": [{"Type": "DIMENSION", "Key": key} for key in group_keys],
            "ResultsByTime": results,
            "DimensionValueAttributes": [],
        }
    )
