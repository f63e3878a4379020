"""Built-in ``bedrock`` scenario: generative-AI use far above the account's own baseline.

Stolen keys are sold for free LLM access ("LLMjacking"): the bill grows by thousands a day and AWS
opens an abuse case. Per region, from the last 24 hours of ``AWS/Bedrock`` metrics:

- ``bedrock_new_region`` (HIGH): Bedrock used in a region with no use in the 14 days before, above
  ``NEW_REGION_MIN_INVOCATIONS`` or ``NEW_REGION_MIN_TOKENS``.
- ``bedrock_spike`` (HIGH): invocations or tokens above ``SPIKE_FACTOR`` times the busiest of the 14
  days before, and above the same floors.
"""

from __future__ import annotations

from typing import Any

from vigilare.plugin import CollectedData, Finding, Scenario, Severity, hookimpl, minute_of

SPIKE_FACTOR = 10.0
NEW_REGION_MIN_INVOCATIONS = 100.0
NEW_REGION_MIN_TOKENS = 100_000.0
DOCS = "https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-runtime-metrics.html"


def _tokens(values: dict[str, Any]) -> float:
    return float(values.get("InputTokenCount") or 0) + float(values.get("OutputTokenCount") or 0)


class BedrockScenario(Scenario):
    id = "bedrock"
    title = "Bedrock model use far above the account's baseline"
    requires = ("bedrock.usage",)
    emits = {"bedrock_new_region": (Severity.HIGH,), "bedrock_spike": (Severity.HIGH,)}
    remediation = (
        "If nobody on your team runs this, find the caller in CloudTrail (InvokeModel, Converse), deactivate "
        "its keys, and deny bedrock:InvokeModel* where you do not use Bedrock."
    )
    docs_url = DOCS

    async def detect(self, data: CollectedData) -> list[Finding]:
        findings = []
        for region, usage in sorted(data.per_region("bedrock.usage").items()):
            finding = self._region(data.account_id, region, usage or {}, minute_of(data.collected_at))
            if finding is not None:
                findings.append(finding)
        return findings

    def _region(self, account: str, region: str, usage: dict[str, Any], checked: str) -> Finding | None:
        last = usage.get("last_24h") or {}
        invocations, tokens = float(last.get("Invocations") or 0), _tokens(last)
        if invocations < NEW_REGION_MIN_INVOCATIONS and tokens < NEW_REGION_MIN_TOKENS:
            return None
        baseline = usage.get("baseline_daily") or {}
        days = len(baseline.get("Invocations") or [])
        peak_invocations = max(baseline.get("Invocations") or [0.0])
        daily_tokens = [
            a + b
            for a, b in zip(
                baseline.get("InputTokenCount") or [0.0] * days,
                baseline.get("OutputTokenCount") or [0.0] * days,
                strict=False,
            )
        ]
        peak_tokens = max(daily_tokens or [0.0])
        models = ", ".join(usage.get("models") or []) or "unknown models"
        details = {
            "last_24h": last,
            "baseline_peak_invocations": peak_invocations,
            "baseline_peak_tokens": peak_tokens,
            "models": usage.get("models") or [],
        }
        if peak_invocations == 0 and peak_tokens == 0:
            return self.finding(
                kind="bedrock_new_region",
                severity=Severity.HIGH,
                title=f"Bedrock used in {region} for the first time in two weeks: {invocations:,.0f} calls",
                description=(
                    f"In the 24 hours before {checked}, account {account} made {invocations:,.0f} Bedrock "
                    f"model calls ({tokens:,.0f} tokens) in {region} ({models}), a region with no Bedrock "
                    "use in the 14 days before. Stolen keys are resold for free access to language models."
                ),
                resource=f"arn:aws:bedrock:{region}:{account}:usage",
                region=region,
                details=details,
            )
        if invocations > SPIKE_FACTOR * peak_invocations or tokens > SPIKE_FACTOR * max(peak_tokens, 1.0):
            return self.finding(
                kind="bedrock_spike",
                severity=Severity.HIGH,
                title=f"Bedrock use in {region} is over {SPIKE_FACTOR:.0f}x its busiest day in two weeks",
                description=(
                    f"In the 24 hours before {checked}, account {account} made {invocations:,.0f} Bedrock "
                    f"calls ({tokens:,.0f} tokens) in {region} ({models}); its busiest day of the 14 before "
                    f"had {peak_invocations:,.0f} calls and {peak_tokens:,.0f} tokens."
                ),
                resource=f"arn:aws:bedrock:{region}:{account}:usage",
                region=region,
                details=details,
            )
        return None


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [BedrockScenario]
