"""Built-in ``email`` scenario: SES under review or paused, and bounce / complaint rates nearing it.

AWS reviews an SES account at a bounce rate of 5 % or a complaint rate of 0.1 %, and pauses its
sending at 10 % or 0.5 %. Vigilare warns earlier (2 % and 0.05 %) so there is time to act.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigilare.plugin import (
    CollectedData,
    Finding,
    Scenario,
    Severity,
    as_datetime,
    hookimpl,
    iso_utc,
    minute_of,
)

# (rate as a fraction, severity, what AWS does there), most severe first.
BOUNCE_BANDS: Sequence[tuple[float, Severity, str]] = (
    (0.10, Severity.CRITICAL, "AWS pauses sending at 10 %"),
    (0.05, Severity.HIGH, "AWS puts the account under review at 5 %"),
    (0.02, Severity.MEDIUM, "AWS reviews at 5 % and pauses at 10 %"),
)
COMPLAINT_BANDS: Sequence[tuple[float, Severity, str]] = (
    (0.005, Severity.CRITICAL, "AWS pauses sending at 0.5 %"),
    (0.001, Severity.HIGH, "AWS puts the account under review at 0.1 %"),
    (0.0005, Severity.MEDIUM, "AWS reviews at 0.1 % and pauses at 0.5 %"),
)
SES_DOCS = "https://repost.aws/knowledge-center/ses-resolve-account-review-pause"


def band(rate: float, bands: Sequence[tuple[float, Severity, str]]) -> tuple[float, Severity, str] | None:
    """The most severe band ``rate`` reaches (thresholds are inclusive), or None below them all."""
    # Rates arrive as floats (0.05 may be 0.049999...): compare with a tolerance far below any band.
    return next((entry for entry in bands if rate >= entry[0] - 1e-12), None)


def percent(rate: float) -> str:
    return f"{rate * 100:.2f} %".replace(".00 %", " %")


class EmailScenario(Scenario):
    id = "email"
    title = "Amazon SES under review, paused, or close to it"
    requires = ("ses.account", "ses.reputation")
    kind_requires = {
        "ses_shutdown": ("ses.account",),
        "ses_probation": ("ses.account",),
        "ses_bounce_rate": ("ses.reputation",),
        "ses_complaint_rate": ("ses.reputation",),
    }
    emits = {
        "ses_shutdown": (Severity.CRITICAL,),
        "ses_probation": (Severity.HIGH,),
        "ses_bounce_rate": tuple(severity for _, severity, _ in BOUNCE_BANDS),
        "ses_complaint_rate": tuple(severity for _, severity, _ in COMPLAINT_BANDS),
    }
    remediation = (
        "Stop sending to addresses that bounce or complain: remove invalid and unengaged addresses, use "
        "confirmed opt-in, honour unsubscribes and the suppression list; if AWS reviewed or paused the "
        "account, fix the cause, then answer the SES case in Support Center and ask for a review."
    )
    docs_url = SES_DOCS

    async def detect(self, data: CollectedData) -> list[Finding]:
        findings: list[Finding] = []
        account = data.account_id
        for region, ses in sorted(data.per_region("ses.account").items()):
            if ses:
                findings += self._enforcement(account, region, ses)
        for region, reputation in sorted(data.per_region("ses.reputation").items()):
            if not reputation:
                continue
            for kind, label, bands in (
                ("ses_bounce_rate", "bounce", BOUNCE_BANDS),
                ("ses_complaint_rate", "complaint", COMPLAINT_BANDS),
            ):
                point = reputation.get(f"{label}_rate")
                if point is not None:
                    findings += self._rate(account, region, kind, label, point, bands)
        return findings

    def _enforcement(self, account: str, region: str, ses: dict[str, Any]) -> list[Finding]:
        status = str(ses.get("EnforcementStatus", "HEALTHY")).upper()
        sending = ses.get("SendingEnabled", True)
        sending_text = "Sending is enabled." if sending else "Sending is disabled."
        resource = f"arn:aws:ses:{region}:{account}:account"
        details = {"enforcement_status": status, "sending_enabled": sending}
        if status == "SHUTDOWN":
            return [
                self.finding(
                    kind="ses_shutdown",
                    severity=Severity.CRITICAL,
                    title=f"Amazon SES sending paused by AWS in {region}",
                    description=(
                        f"AWS has shut down (paused) SES sending for account {account} in {region}, as seen "
                        f"at this scan: no email goes out from SES in that region. {sending_text} AWS does "
                        "this after an account under review keeps too high bounce or complaint rates."
                    ),
                    resource=resource,
                    region=region,
                    details=details,
                )
            ]
        if status == "PROBATION":
            return [
                self.finding(
                    kind="ses_probation",
                    severity=Severity.HIGH,
                    title=f"Amazon SES account under review (probation) in {region}",
                    description=(
                        f"AWS has put SES of account {account} in {region} under review (probation), as "
                        f"seen at this scan. {sending_text} If the bounce or complaint rate does not come "
                        "down before the review period ends, AWS pauses sending."
                    ),
                    resource=resource,
                    region=region,
                    details=details,
                )
            ]
        return []

    def _rate(
        self,
        account: str,
        region: str,
        kind: str,
        label: str,
        point: dict[str, Any],
        bands: Sequence[tuple[float, Severity, str]],
    ) -> list[Finding]:
        rate = float(point["value"])
        reached = band(rate, bands)
        if reached is None:
            return []
        threshold, severity, consequence = reached
        measured = as_datetime(point.get("timestamp"))
        at = f" at {minute_of(measured)}" if measured else ""
        return [
            self.finding(
                kind=kind,
                severity=severity,
                title=f"Amazon SES {label} rate {percent(rate)} in {region}{at} ({consequence})",
                description=(
                    f"The SES {label} rate of account {account} in {region} was {percent(rate)}{at} "
                    f"(CloudWatch AWS/SES Reputation.{label.capitalize()}Rate), at or above "
                    f"{percent(threshold)}: {consequence}."
                ),
                resource=f"arn:aws:ses:{region}:{account}:account",
                region=region,
                details={
                    "rate": rate,
                    "threshold": threshold,
                    "measured_at": iso_utc(measured),
                },
            )
        ]


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [EmailScenario]
