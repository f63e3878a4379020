"""Built-in ``takeover`` scenario: signs that someone is taking the account over.

- ``contact_changed`` (CRITICAL): the primary contact or an alternate contact (BILLING, OPERATIONS,
  SECURITY) changed since an earlier scan, within the last 7 days. Attackers redirect the contacts so
  that AWS's abuse and compromise notices, and password resets, reach them instead of the owner.
- ``key_new_region`` (HIGH): an access key was last used from a region it was never seen used in
  before (credential report ``access_key_N_last_used_region``), within the last 7 days. Regions the
  key used when Vigilare first saw it are its baseline.

A region newly enabled is the ``activity`` scenario's ``region_enabled`` (CloudTrail ``EnableRegion``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from vigilare.plugin import CollectedData, Finding, Scenario, Severity, as_datetime, hookimpl, minute_of

RECENT = timedelta(days=7)
CONTACT_DOCS = "https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-update-contact.html"
KEY_DOCS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html"
_CONTACT_NAMES = {
    "PRIMARY": "primary contact",
    "BILLING": "billing contact",
    "OPERATIONS": "operations contact",
    "SECURITY": "security contact",
}


class TakeoverScenario(Scenario):
    id = "takeover"
    title = "Contacts changed and keys used from new regions"
    requires = ("account.contacts", "iam.access_key_regions")
    emits = {"contact_changed": (Severity.CRITICAL,), "key_new_region": (Severity.HIGH,)}
    remediation = (
        "If nobody on your team made the change, treat the account as compromised: secure the root user, "
        "restore the contacts, and rotate the keys involved."
    )
    docs_url = "https://repost.aws/knowledge-center/potential-account-compromise"

    async def detect(self, data: CollectedData) -> list[Finding]:
        findings: list[Finding] = []
        contacts = data.get("account.contacts")
        if contacts:
            findings += self._contacts(data, contacts)
        keys = data.get("iam.access_key_regions")
        if keys:
            findings += self._key_regions(data, keys)
        return findings

    def _contacts(self, data: CollectedData, contacts: dict[str, Any]) -> list[Finding]:
        now = data.collected_at
        changed: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for change in contacts.get("changes") or []:
            moment = as_datetime(change.get("changed_at"))
            if moment is not None and now - moment <= RECENT:
                changed[str(change.get("contact"))].append(change)
        findings = []
        for name, changes in sorted(changed.items()):
            fields = sorted({str(change.get("field")) for change in changes})
            moments = [moment for change in changes if (moment := as_datetime(change.get("changed_at")))]
            first = min(moments)
            label = _CONTACT_NAMES.get(name, f"{name.lower()} contact")
            current = (contacts.get("contacts") or {}).get(name) or {}
            now_reads = {field: current[field] for field in fields if field in current}
            findings.append(
                self.finding(
                    kind="contact_changed",
                    severity=Severity.CRITICAL,
                    title=f"The {label} of account {data.account_id} changed ({', '.join(fields)})",
                    description=(
                        f"Between two scans, seen at {minute_of(first)}, the {label} of account "
                        f"{data.account_id} changed: {', '.join(fields)}. AWS sends abuse reports, "
                        "compromise notices and account recovery to these contacts; attackers change "
                        "them to take the account over. Confirm the change with whoever made it."
                    ),
                    resource=f"arn:aws:account::{data.account_id}:contact/{name}",
                    remediation=(
                        f"If nobody on your team changed the {label}, restore it (Account > Contact "
                        "information), change the root password and its mailbox's, and look in CloudTrail "
                        "for PutContactInformation / PutAlternateContact to find the credentials used."
                    ),
                    docs_url=CONTACT_DOCS,
                    details={"contact": name, "fields": fields, "now": now_reads, "changes": changes},
                )
            )
        return findings

    def _key_regions(self, data: CollectedData, keys: dict[str, Any]) -> list[Finding]:
        now = data.collected_at
        findings = []
        for key in sorted(keys.get("keys") or [], key=lambda key: str(key.get("key"))):
            baseline = set(key.get("baseline") or [])
            new = sorted(
                region
                for region, first_seen in (key.get("regions") or {}).items()
                if region not in baseline
                and (moment := as_datetime(first_seen)) is not None
                and now - moment <= RECENT
            )
            if not new:
                continue
            user, slot = key.get("user"), key.get("slot")
            usual = ", ".join(sorted(baseline)) or "none recorded"
            findings.append(
                self.finding(
                    kind="key_new_region",
                    severity=Severity.HIGH,
                    title=f"Access key {slot} of {user} used from {', '.join(new)}, a region it never used",
                    description=(
                        f"The credential report shows access key {slot} of IAM user {user} last used in "
                        f"{key.get('last_used_region') or new[-1]} (at {key.get('last_used') or 'unknown'}), "
                        f"a region it had not been used from before (usual: {usual}). A key working from a "
                        "new region is often a leaked key in someone else's hands."
                    ),
                    resource=f"{key.get('user_arn') or user}#access_key_{slot}",
                    remediation=(
                        f"Ask the owner of {user} whether they work from {', '.join(new)}. If not, "
                        "deactivate the key, check in CloudTrail what it did there, and create a new one."
                    ),
                    docs_url=KEY_DOCS,
                    details={"user": user, "slot": slot, "new_regions": new, "baseline": sorted(baseline)},
                )
            )
        return findings


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [TakeoverScenario]
