"""The root row of the IAM credential report, which moto leaves out.

Real AWS always lists `<root_account>` first, with its MFA and access key state; the scanner
judges root MFA from that row. The gateway adds it to moto's report from the account's fake state
(MFA on and no root keys unless seeded otherwise).
"""

from __future__ import annotations

import base64
import csv
import io
import re

from vigilare_sandbox.state import AccountState

_CONTENT = re.compile(rb"<Content>([^<]*)</Content>")


def _root_row(columns: list[str], account_id: str, state: AccountState) -> dict[str, str]:
    values = {
        "user": "<root_account>",
        "arn": f"arn:aws:iam::{account_id}:root",
        "user_creation_time": "2020-01-01T00:00:00+00:00",
        "password_enabled": "not_supported",
        "password_last_used": "N/A",
        "password_last_changed": "not_supported",
        "password_next_rotation": "not_supported",
        "mfa_active": "true" if state.root_mfa else "false",
        "access_key_1_active": "true" if state.root_access_keys else "false",
        "access_key_1_last_rotated": "2020-01-01T00:00:00+00:00" if state.root_access_keys else "N/A",
    }
    return {
        column: values.get(column, "N/A" if "_last_" in column or column.endswith("_time") else "false")
        for column in columns
    }


def add_root_row(xml: bytes, account_id: str, state: AccountState) -> bytes:
    match = _CONTENT.search(xml)
    if match is None:
        return xml
    report = base64.b64decode(match.group(1)).decode()
    if "<root_account>" in report:
        return xml
    rows = list(csv.DictReader(io.StringIO(report)))
    columns = report.splitlines()[0].split(",") if report else []
    if not columns:
        return xml
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerow(_root_row(columns, account_id, state))
    writer.writerows(rows)
    encoded = base64.b64encode(out.getvalue().encode())
    return xml[: match.start(1)] + encoded + xml[match.end(1) :]
