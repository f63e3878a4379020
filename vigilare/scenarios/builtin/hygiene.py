"""Built-in ``hygiene`` scenario: the settings that decide whether a compromise is noticed in time.

- ``no_security_contact``: no SECURITY alternate contact, so AWS's abuse and compromise notices go
  to the root mailbox only.
- ``no_multiregion_trail``: no multi-region CloudTrail trail exists (an organization trail, which
  member accounts see as a shadow trail of the management account, counts). A multi-region trail that is
  not logging is the ``root`` scenario's ``cloudtrail_stopped``, not reported twice here. Judged
  only when every region's trails were read (the trail may live in a region that failed).
- ``guardduty_off``: GuardDuty has no enabled detector in some regions. One summarising finding
  for the account (region ``global``) lists those regions, so a region turned on or off updates
  it instead of opening and resolving signals one region at a time.
"""

from __future__ import annotations

from typing import Any

from vigilare.plugin import CollectedData, Finding, Scenario, Severity, hookimpl, minute_of

CONTACT_DOCS = (
    "https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-update-contact-alternate.html"
)
TRAIL_DOCS = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/receive-cloudtrail-log-files-from-multiple-regions.html"
GUARDDUTY_DOCS = "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_settingup.html"
_MAX_REGIONS_IN_TITLE = 4


def trail_label(trail: dict[str, Any]) -> str:
    """A trail's name, with "organization trail of <management account>" when it is one."""
    name = str(trail.get("Name"))
    if trail.get("OrganizationTrail"):
        return f"{name} (organization trail of {trail.get('ManagedBy') or 'the management account'})"
    return name


class HygieneScenario(Scenario):
    id = "hygiene"
    title = "Missing security contact, CloudTrail or GuardDuty"
    requires = ("account.security_contact", "cloudtrail.trails", "guardduty.detectors")
    emits = {
        "no_security_contact": (Severity.MEDIUM,),
        "no_multiregion_trail": (Severity.MEDIUM,),
        "guardduty_off": (Severity.MEDIUM,),
    }
    kind_requires = {
        "no_security_contact": ("account.security_contact",),
        "no_multiregion_trail": ("cloudtrail.trails",),
        "guardduty_off": ("guardduty.detectors",),
    }
    remediation = (
        "Set a SECURITY alternate contact that reaches your team, create a multi-region CloudTrail trail, "
        "and enable GuardDuty in every enabled region."
    )
    docs_url = "https://repost.aws/knowledge-center/potential-account-compromise"

    async def detect(self, data: CollectedData) -> list[Finding]:
        findings: list[Finding] = []
        now = minute_of(data.collected_at)
        account = data.account_id
        if "account.security_contact" in data and data["account.security_contact"] is None:
            findings.append(
                self.finding(
                    kind="no_security_contact",
                    severity=Severity.MEDIUM,
                    title=f"No security contact set for AWS account {account}",
                    description=(
                        f"Account {account} has no SECURITY alternate contact (checked {now}). AWS sends "
                        "abuse reports and compromised-key notices, with their deadlines, to that contact; "
                        "without it they reach only the root user's mailbox, which few people read."
                    ),
                    resource=f"arn:aws:account::{account}:alternate-contact/SECURITY",
                    remediation=(
                        "In the AWS console (Account > Alternate contacts) or with `aws account "
                        "put-alternate-contact --alternate-contact-type SECURITY`, set a team mailbox and "
                        "phone number that someone watches."
                    ),
                    docs_url=CONTACT_DOCS,
                )
            )
        trails = data.per_region("cloudtrail.trails")
        # Only over every region's trails (a multi-region trail is listed in its home region alone),
        # but for regions an SCP closes to Vigilare: there is nothing to read there.
        unread = {region for region in set(data.regions) - set(trails) if not _closed_by_scp(data, region)}
        if trails and not unread and not data.failed_regions("cloudtrail.trails"):
            findings += self._trails(
                account, now, [trail for _, trail in data.regional_items("cloudtrail.trails")]
            )
        findings += self._guardduty(account, now, data.per_region("guardduty.detectors"))
        return findings

    def _trails(self, account: str, now: str, trails: list[dict[str, Any]]) -> list[Finding]:
        # An organization trail records every region of every member account: it counts.
        if any(trail.get("IsMultiRegionTrail") or trail.get("OrganizationTrail") for trail in trails):
            return []
        names = ", ".join(sorted(trail_label(trail) for trail in trails)) or "none"
        return [
            self.finding(
                kind="no_multiregion_trail",
                severity=Severity.MEDIUM,
                title=f"No multi-region CloudTrail trail in account {account}",
                description=(
                    f"Account {account} has no CloudTrail trail recording every region (checked {now}; "
                    f"trails found: {names}). Attackers work in the regions nobody watches; without a "
                    "multi-region trail, what they do there is kept only 90 days in the event history."
                ),
                resource=f"arn:aws:cloudtrail::{account}:trail/*",
                remediation=(
                    "Create a trail with `IsMultiRegionTrail` (the console's default), logging to an S3 "
                    "bucket only a few people can change."
                ),
                docs_url=TRAIL_DOCS,
                details={"trails": sorted(trail_label(trail) for trail in trails)},
            )
        ]

    def _guardduty(self, account: str, now: str, detectors_by_region: Any) -> list[Finding]:
        off: dict[str, str] = {}
        for region, detectors in sorted(detectors_by_region.items()):
            if not detectors:
                off[region] = "no detector"
            elif not any(str(detector.get("Status", "")).upper() == "ENABLED" for detector in detectors):
                off[region] = "detector disabled"
        if not off:
            return []
        regions = sorted(off)
        shown = ", ".join(regions[:_MAX_REGIONS_IN_TITLE])
        if len(regions) > _MAX_REGIONS_IN_TITLE:
            shown += f" and {len(regions) - _MAX_REGIONS_IN_TITLE} more"
        reasons = "; ".join(f"{region}: {reason}" for region, reason in off.items())
        return [
            self.finding(
                kind="guardduty_off",
                severity=Severity.MEDIUM,
                title=f"GuardDuty off in {len(regions)} region(s): {shown}",
                description=(
                    f"GuardDuty is not watching account {account} in {len(regions)} region(s) (checked "
                    f"{now}): {reasons}. GuardDuty is what notices crypto-mining, stolen credentials in "
                    "use and other compromise, in regions you never use too."
                ),
                resource=f"arn:aws:guardduty::{account}:detector/*",
                remediation=(
                    "Enable GuardDuty in every enabled region (or for the whole organisation from its "
                    "delegated administrator account)."
                ),
                docs_url=GUARDDUTY_DOCS,
                details={"regions": off},
            )
        ]


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [HygieneScenario]


def _closed_by_scp(data: CollectedData, region: str) -> bool:
    capability = data.capability(f"scp_denied:{region}")
    return capability is not None and not capability.available
