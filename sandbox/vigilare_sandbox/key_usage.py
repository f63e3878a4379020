"""The credential report's ``access_key_N_last_used_region`` and ``_service`` columns, which moto
writes as ``not_supported``.

AWS fills them with the region and service of the key's most recent use, or ``N/A`` for a key never
used (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html#id_credentials_understanding_the_report_format).
moto knows each key's last use (``AccessKey.last_used``); the gateway copies it into the report.
`record_key_use` sets it, as a request signed with the key in that region would.
"""

from __future__ import annotations

import base64
import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

_CONTENT = re.compile(rb"<Content>([^<]*)</Content>")


def _user_keys(account_id: str, user_name: str) -> list[Any]:
    from moto.iam.models import iam_backends

    user = iam_backends[account_id]["aws"].users.get(user_name)
    return list(user.access_keys) if user is not None else []


def record_key_use(
    account_id: str, access_key_id: str, region: str, service: str = "ec2", when: datetime | None = None
) -> None:
    """Make moto remember a use of the key (what AWS records when a signed request reaches it)."""
    from moto.iam.models import AccessKeyLastUsed, iam_backends

    key = iam_backends[account_id]["aws"].access_keys[access_key_id]
    key.last_used = AccessKeyLastUsed(timestamp=when or datetime.now(UTC), service=service, region=region)


def fill_key_use(xml: bytes, account_id: str) -> bytes:
    """The GetCredentialReport answer with each key's last-used region and service as AWS gives them."""
    match = _CONTENT.search(xml)
    if match is None:
        return xml
    report = base64.b64decode(match.group(1)).decode()
    rows = list(csv.DictReader(io.StringIO(report)))
    columns = report.splitlines()[0].split(",") if report else []
    if not columns or "access_key_1_last_used_region" not in columns:
        return xml
    for row in rows:
        if row.get("user") == "<root_account>":
            continue
        keys = _user_keys(account_id, row.get("user", ""))
        for slot, key in zip(("1", "2"), keys, strict=False):
            last_used = getattr(key, "last_used", None)
            row[f"access_key_{slot}_last_used_region"] = last_used.region if last_used else "N/A"
            row[f"access_key_{slot}_last_used_service"] = last_used.service if last_used else "N/A"
        for slot in ("1", "2")[len(keys) :]:
            row[f"access_key_{slot}_last_used_region"] = "N/A"
            row[f"access_key_{slot}_last_used_service"] = "N/A"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    encoded = base64.b64encode(out.getvalue().encode())
    return xml[: match.start(1)] + encoded + xml[match.end(1) :]
