"""Account takeover signs that only show as a change between scans.

- ``account.contacts``: the primary contact (``account:GetContactInformation``) and the BILLING,
  OPERATIONS and SECURITY alternate contacts (``account:GetAlternateContact``). The scan state keeps
  a hash of each field, never the values; a field whose hash differs from the last scan's is a
  change, remembered with its time for ``CHANGE_MEMORY``. The first scan only records.
- ``iam.access_key_regions``: from the credential report, the region each access key was last used
  in (``access_key_N_last_used_region``). The state keeps, per key (user, slot and rotation date,
  since the report has no key id), every region seen with when it was first seen; regions seen at
  the first scan are the baseline.

https://docs.aws.amazon.com/accounts/latest/reference/API_GetContactInformation.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from vigilare.plugin import Collector, CollectorContext, as_datetime

ALTERNATE_CONTACT_TYPES = ("BILLING", "OPERATIONS", "SECURITY")
CHANGE_MEMORY = timedelta(days=7)
REPORT_WAIT_SECONDS = 60.0
_NOT_A_REGION = {"", "N/A", "no_information"}


def _fingerprint(account_id: str, value: Any) -> str:
    # Salted with the account so equal values in two accounts do not hash alike.
    return hashlib.sha256(f"{account_id}|{value}".encode()).hexdigest()[:32]


async def _alternate_contact(ctx: CollectorContext, contact_type: str) -> dict[str, Any] | None:
    try:
        response = await ctx.call("account", "get_alternate_contact", AlternateContactType=contact_type)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    contact: dict[str, Any] = response.get("AlternateContact", {})
    return {key: value for key, value in contact.items() if key != "AlternateContactType"}


async def fetch_contacts(ctx: CollectorContext) -> dict[str, Any]:
    """``{"contacts": {"PRIMARY": {...}, "SECURITY": {...} | None, ...}, "changes": [...],
    "watched_since": iso}``; each change is ``{"contact", "field", "changed_at"}``."""
    now = datetime.now(UTC)
    primary = (await ctx.call("account", "get_contact_information")).get("ContactInformation", {})
    contacts: dict[str, dict[str, Any] | None] = {"PRIMARY": dict(primary)}
    for contact_type in ALTERNATE_CONTACT_TYPES:
        contacts[contact_type] = await _alternate_contact(ctx, contact_type)

    hashes = {
        name: (
            {field: _fingerprint(ctx.account_id, value) for field, value in sorted(contact.items())}
            if contact is not None
            else None
        )
        for name, contact in contacts.items()
    }
    previous = ctx.previous_state if isinstance(ctx.previous_state, dict) else {}
    previous_hashes: dict[str, Any] = previous.get("hashes") or {}
    changes = [
        change
        for change in previous.get("changes") or []
        if (moment := as_datetime(change.get("changed_at"))) is not None and now - moment <= CHANGE_MEMORY
    ]
    if previous_hashes:
        for name, fields in hashes.items():
            before = previous_hashes.get(name)
            if before == fields:
                continue
            if before is None or fields is None:
                changed = ["(added)" if before is None else "(removed)"]
            else:
                changed = sorted(
                    field for field in set(before) | set(fields) if before.get(field) != fields.get(field)
                )
            changes += [{"contact": name, "field": field, "changed_at": now.isoformat()} for field in changed]
    watched_since = as_datetime(previous.get("watched_since")) or now
    ctx.save_state({"hashes": hashes, "changes": changes, "watched_since": watched_since.isoformat()})
    return {"contacts": contacts, "changes": changes, "watched_since": watched_since.isoformat()}


async def _credential_report(ctx: CollectorContext) -> list[dict[str, str]]:
    deadline = time.monotonic() + REPORT_WAIT_SECONDS
    pause = 0.25
    while (await ctx.call("iam", "generate_credential_report"))["State"] != "COMPLETE":
        if time.monotonic() > deadline:
            raise TimeoutError("the credential report was not ready within a minute")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 4.0)
    content = (await ctx.call("iam", "get_credential_report"))["Content"]
    text = content.decode() if isinstance(content, bytes) else str(content)
    return list(csv.DictReader(io.StringIO(text)))


async def fetch_access_key_regions(ctx: CollectorContext) -> dict[str, Any]:
    """``{"keys": [{"key", "user", "slot", "last_used_region", "last_used", "regions":
    {region: first_seen}, "baseline": [regions]}]}``: active keys and where they have been used."""
    now = datetime.now(UTC)
    rows = await _credential_report(ctx)
    previous = ctx.previous_state if isinstance(ctx.previous_state, dict) else {}
    known: dict[str, Any] = previous.get("keys") or {}
    first_scan = not previous
    state: dict[str, Any] = {}
    keys = []
    for row in rows:
        for slot in ("1", "2"):
            if row.get(f"access_key_{slot}_active", "").lower() != "true":
                continue
            user = row.get("user", "")
            identity = f"{user}#{slot}#{row.get(f'access_key_{slot}_last_rotated', '')}"
            entry = known.get(identity) or {"regions": {}, "baseline": []}
            regions: dict[str, str] = dict(entry.get("regions") or {})
            baseline: list[str] = list(entry.get("baseline") or [])
            region = row.get(f"access_key_{slot}_last_used_region", "")
            if region not in _NOT_A_REGION and region not in regions:
                regions[region] = now.isoformat()
                if first_scan or identity not in known:
                    baseline.append(region)  # where the key already worked when Vigilare met it
            state[identity] = {"regions": regions, "baseline": sorted(set(baseline))}
            keys.append(
                {
                    "key": identity,
                    "user": user,
                    "slot": slot,
                    "user_arn": row.get("arn", ""),
                    "last_used_region": region if region not in _NOT_A_REGION else None,
                    "last_used": row.get(f"access_key_{slot}_last_used_date"),
                    "regions": regions,
                    "baseline": sorted(set(baseline)),
                }
            )
    ctx.save_state({"keys": state})
    return {"keys": keys}


TAKEOVER_COLLECTORS = [
    Collector(
        key="account.contacts",
        fetch=fetch_contacts,
        evidence=True,
        description=(
            "account:GetContactInformation and GetAlternateContact (BILLING, OPERATIONS, SECURITY), "
            "compared with the last scan through hashes kept in the scan state"
        ),
        freshness=timedelta(hours=1),
    ),
    Collector(
        key="iam.access_key_regions",
        fetch=fetch_access_key_regions,
        evidence=True,
        description="iam:GetCredentialReport's access_key_N_last_used_region, with each key's regions kept",
        freshness=timedelta(hours=1),
    ),
]
