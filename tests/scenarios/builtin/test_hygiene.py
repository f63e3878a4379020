"""The ``hygiene`` scenario: SECURITY contact, multi-region CloudTrail, GuardDuty in every region."""

from __future__ import annotations

from tests.support.aws import TEST_REGIONS, scan_sandbox
from tests.support.findings import ACCOUNT_ID, grouped_by_kind
from vigilare.plugin import CollectionError
from vigilare.scenarios.builtin.hygiene import HygieneScenario
from vigilare.testing import collected_data
from vigilare_sandbox.seed_aws import (
    client_for,
    create_logging_trail,
    ensure_guardduty_detector,
    set_security_contact,
)

CONTACT = {"AlternateContactType": "SECURITY", "EmailAddress": "security@example.com"}
MULTI_REGION = {"Name": "org-trail", "TrailARN": "arn:x", "IsMultiRegionTrail": True}
ENABLED = [{"DetectorId": "d1", "Status": "ENABLED"}]


def data(contact=CONTACT, trails=None, detectors=None, errors=()):
    return collected_data(
        {"account.security_contact": contact},
        regional={
            "cloudtrail.trails": trails
            if trails is not None
            else {"us-east-1": [MULTI_REGION], "eu-west-1": []},
            "guardduty.detectors": detectors
            if detectors is not None
            else {"us-east-1": ENABLED, "eu-west-1": ENABLED},
        },
        errors=errors,
    )


async def test_a_well_kept_account_has_no_finding():
    assert await HygieneScenario().detect(data()) == []


async def test_no_security_contact_is_medium():
    [finding] = await HygieneScenario().detect(data(contact=None))
    assert (finding.kind, finding.severity) == ("no_security_contact", "MEDIUM")
    assert ACCOUNT_ID in finding.title and finding.docs_url.startswith("https://docs.aws.amazon.com/")


async def test_only_single_region_trails_is_medium():
    single = {"Name": "local", "TrailARN": "arn:y", "IsMultiRegionTrail": False}
    [finding] = await HygieneScenario().detect(data(trails={"us-east-1": [single], "eu-west-1": []}))
    assert (finding.kind, finding.severity) == ("no_multiregion_trail", "MEDIUM")
    assert "local" in finding.description


async def test_no_trail_judgement_when_a_region_could_not_be_read():
    error = CollectionError(key="cloudtrail.trails", region="eu-west-1", error="ServiceUnavailable")
    assert await HygieneScenario().detect(data(trails={"us-east-1": []}, errors=[error])) == []


async def test_guardduty_off_is_one_summarising_finding_listing_the_regions():
    detectors = {
        "us-east-1": ENABLED,
        "eu-west-1": [],
        "ap-southeast-2": [{"DetectorId": "d2", "Status": "DISABLED"}],
    }
    [finding] = await HygieneScenario().detect(data(detectors=detectors))
    assert (finding.kind, finding.severity, finding.region) == ("guardduty_off", "MEDIUM", "global")
    assert finding.title == "GuardDuty off in 2 region(s): ap-southeast-2, eu-west-1"
    assert finding.details["regions"] == {"ap-southeast-2": "detector disabled", "eu-west-1": "no detector"}


async def test_sandbox_hygiene_gaps_are_found_and_fixed_ones_are_not(sandbox):
    account = "340000000001"
    report = await scan_sandbox(sandbox, [HygieneScenario], account_id=account)
    assert report.status == "ok" and report.collection_errors == []
    found = {kind: group[0].severity for kind, group in grouped_by_kind(report.findings).items()}
    assert found == {
        "no_security_contact": "MEDIUM",
        "no_multiregion_trail": "MEDIUM",
        "guardduty_off": "MEDIUM",
    }
    assert set(grouped_by_kind(report.findings)["guardduty_off"][0].details["regions"]) == set(TEST_REGIONS)

    set_security_contact(sandbox, account)
    create_logging_trail(sandbox, account, "org-trail")
    for region in TEST_REGIONS[1:]:
        ensure_guardduty_detector(sandbox, account, region)
    guardduty = client_for(sandbox, account, "guardduty", TEST_REGIONS[0])
    guardduty.update_detector(
        DetectorId=ensure_guardduty_detector(sandbox, account, TEST_REGIONS[0]), Enable=False
    )

    report = await scan_sandbox(sandbox, [HygieneScenario], account_id=account)
    [finding] = report.findings
    assert finding.kind == "guardduty_off" and finding.details["regions"] == {
        TEST_REGIONS[0]: "detector disabled"
    }
