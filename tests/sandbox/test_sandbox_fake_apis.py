"""Each API moto lacks answers through the gateway the way botocore's model says AWS does, for the
sync client (boto3) and the one the scanner uses (aioboto3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.support.botocore_model import ApiCall, assert_matches_model
from vigilare_sandbox import Sandbox, seed_aws, seed_events


async def test_health_events_details_and_entities(
    sandbox: Sandbox, account_id: str, call_api: ApiCall
) -> None:
    deadline = datetime.now(UTC) + timedelta(days=4)
    risk_arn = seed_events.add_exposed_credentials_event(sandbox, account_id, "AKIAEXPOSED000001", deadline)
    seed_events.add_health_event(
        sandbox, account_id, "EC2", "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "retiring", ["i-1"], "closed"
    )

    events, raw = await call_api(
        "health",
        account_id,
        "describe_events",
        filter={"services": ["RISK", "ABUSE"], "eventStatusCodes": ["open", "upcoming"]},
    )
    assert_matches_model("health", "DescribeEvents", raw)
    assert [event["arn"] for event in events["events"]] == [risk_arn]
    event = events["events"][0]
    assert event["eventTypeCode"] == "AWS_RISK_CREDENTIALS_EXPOSED"
    assert isinstance(event["startTime"], datetime)

    details, raw = await call_api(
        "health",
        account_id,
        "describe_event_details",
        eventArns=[risk_arn, "arn:aws:health:global::event/none"],
    )
    assert_matches_model("health", "DescribeEventDetails", raw)
    description = details["successfulSet"][0]["eventDescription"]["latestDescription"]
    assert "AKIAEXPOSED000001" in description
    assert f"{deadline:%Y-%m-%d %H:%M} UTC" in description
    assert details["failedSet"][0]["eventArn"] == "arn:aws:health:global::event/none"

    entities, raw = await call_api(
        "health", account_id, "describe_affected_entities", filter={"eventArns": [risk_arn]}
    )
    assert_matches_model("health", "DescribeAffectedEntities", raw)
    assert [(entity["entityValue"], entity["awsAccountId"]) for entity in entities["entities"]] == [
        ("AKIAEXPOSED000001", account_id)
    ]


async def test_health_data_is_per_account(sandbox: Sandbox, account_id: str, call_api: ApiCall) -> None:
    seed_events.add_abuse_event(sandbox, account_id, ["arn:aws:ec2:us-east-1:1:instance/i-1"])
    other_account = str(int(account_id) + 500000)

    mine, _ = await call_api("health", account_id, "describe_events")
    theirs, _ = await call_api("health", other_account, "describe_events")

    assert len(mine["events"]) == 1
    assert theirs["events"] == []


async def test_cloudtrail_lookup_events_serves_root_login_as_aws_formats_it(
    sandbox: Sandbox, account_id: str, call_api: ApiCall
) -> None:
    seed_events.add_root_console_login(sandbox, account_id, mfa_used=False, source_ip="203.0.113.5")
    seed_events.add_trail_tampering(
        sandbox, account_id, [("StopLogging", f"arn:aws:cloudtrail:us-east-1:{account_id}:trail/t")]
    )
    seed_events.add_root_console_login(sandbox, account_id, region="eu-west-1")

    logins, raw = await call_api(
        "cloudtrail",
        account_id,
        "lookup_events",
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}],
        StartTime=datetime.now(UTC) - timedelta(days=1),
        EndTime=datetime.now(UTC),
    )

    assert_matches_model("cloudtrail", "LookupEvents", raw)
    assert len(logins["Events"]) == 1  # the eu-west-1 login is in that region's history only
    record = json.loads(logins["Events"][0]["CloudTrailEvent"])
    assert record["userIdentity"]["type"] == "Root"
    assert record["additionalEventData"]["MFAUsed"] == "No"
    assert record["sourceIPAddress"] == "203.0.113.5"
    assert record["awsRegion"] == "us-east-1"
    assert logins["Events"][0]["Username"] == "root"


async def test_cloudtrail_lookup_events_window_excludes_older_events(
    sandbox: Sandbox, account_id: str, call_api: ApiCall
) -> None:
    seed_events.add_root_console_login(sandbox, account_id, when=datetime.now(UTC) - timedelta(days=3))

    recent, _ = await call_api(
        "cloudtrail", account_id, "lookup_events", StartTime=datetime.now(UTC) - timedelta(days=1)
    )
    everything, _ = await call_api("cloudtrail", account_id, "lookup_events")

    assert recent["Events"] == []
    assert len(everything["Events"]) == 1


async def test_guardduty_list_findings_honours_severity_and_updated_since(
    sandbox: Sandbox, account_id: str, call_api: ApiCall
) -> None:
    region = "eu-central-1"
    detector = seed_aws.ensure_guardduty_detector(sandbox, account_id, region)
    last_poll = datetime.now(UTC) - timedelta(hours=1)
    old_high = seed_events.add_guardduty_finding(
        sandbox,
        account_id,
        region,
        detector,
        "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        8.0,
        updated_at=last_poll - timedelta(hours=2),
    )
    new_high = seed_events.add_guardduty_finding(
        sandbox, account_id, region, detector, "Backdoor:EC2/C&CActivity.B", 9.5
    )
    seed_events.add_guardduty_finding(
        sandbox, account_id, region, detector, "Recon:EC2/PortProbeUnprotectedPort", 2.0
    )
    seed_events.add_guardduty_finding(
        sandbox, account_id, region, detector, "CryptoCurrency:EC2/BitcoinTool.B", 8.0, archived=True
    )
    criteria = {
        "Criterion": {
            "severity": {"GreaterThanOrEqual": 7},
            "service.archived": {"Equals": ["false"]},
            "updatedAt": {"GreaterThanOrEqual": int(last_poll.timestamp() * 1000)},
        }
    }

    changed, raw = await call_api(
        "guardduty", account_id, "list_findings", region=region, DetectorId=detector, FindingCriteria=criteria
    )
    assert_matches_model("guardduty", "ListFindings", raw)
    assert changed["FindingIds"] == [new_high]

    seed_events.touch_guardduty_finding(sandbox, account_id, old_high)
    changed_again, _ = await call_api(
        "guardduty", account_id, "list_findings", region=region, DetectorId=detector, FindingCriteria=criteria
    )
    assert sorted(changed_again["FindingIds"]) == sorted([new_high, old_high])

    details, raw = await call_api(
        "guardduty", account_id, "get_findings", region=region, DetectorId=detector, FindingIds=[new_high]
    )
    assert_matches_model("guardduty", "GetFindings", raw)
    finding = details["Findings"][0]
    assert (finding["Type"], finding["Severity"], finding["AccountId"]) == (
        "Backdoor:EC2/C&CActivity.B",
        9.5,
        account_id,
    )
    assert finding["Service"]["Archived"] is False
    assert datetime.fromisoformat(finding["UpdatedAt"].replace("Z", "+00:00")) > last_poll


async def test_cost_explorer_get_anomalies(sandbox: Sandbox, account_id: str, call_api: ApiCall) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    big = seed_events.add_cost_anomaly(sandbox, account_id, total_impact=640.0, start=yesterday)
    seed_events.add_cost_anomaly(sandbox, account_id, total_impact=30.0, start=yesterday)

    result, raw = await call_api(
        "ce",
        account_id,
        "get_anomalies",
        DateInterval={"StartDate": (yesterday - timedelta(days=7)).isoformat()},
        TotalImpact={"NumericOperator": "GREATER_THAN", "StartValue": 100},
    )

    assert_matches_model("ce", "GetAnomalies", raw)
    assert [anomaly["AnomalyId"] for anomaly in result["Anomalies"]] == [big]
    assert result["Anomalies"][0]["Impact"]["TotalImpact"] == 640.0


async def test_sesv2_get_account_reports_enforcement_per_region(
    sandbox: Sandbox, account_id: str, call_api: ApiCall
) -> None:
    seed_events.set_ses_enforcement(sandbox, account_id, "eu-west-1", "SHUTDOWN")

    paused, raw = await call_api("sesv2", account_id, "get_account", region="eu-west-1")
    untouched, _ = await call_api("sesv2", account_id, "get_account", region="us-west-2")

    assert_matches_model("sesv2", "GetAccount", raw)
    assert (paused["EnforcementStatus"], paused["SendingEnabled"]) == ("SHUTDOWN", False)
    assert (untouched["EnforcementStatus"], untouched["SendingEnabled"]) == ("HEALTHY", True)
