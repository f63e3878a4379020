"""The panic package: everything needed to answer AWS when an account is at risk, in one ZIP.

signals (JSON and CSV), the score with its breakdown and history, the recovery checklist (Markdown),
the account's details, the evidence the last scan collected, and a draft reply to the AWS case.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.config import Settings
from vigilare.db.engine import SessionOpener
from vigilare.exports.signals_csv import stream_signals_csv
from vigilare.exports.storage import store
from vigilare.ids import isoformat, new_id, utcnow
from vigilare.scans.models import FINISHED, Scan
from vigilare.scoring.checklist import build_checklist, checklist_markdown
from vigilare.scoring.formula import compute_score
from vigilare.scoring.service import score_history
from vigilare.scoring.support_reply import draft_support_reply
from vigilare.signals.service import iter_signals, open_signals
from vigilare.signals.view import signal_view

SPOOL_IN_MEMORY = 8 << 20

README = """Vigilare panic package for AWS account {account} ({name}), generated {when}.

account.json            the account as Vigilare monitors it (role, status, capabilities)
signals.json / .csv     every signal, open and resolved, with region, resource and timestamps
score.json              the Security Risk Score, what costs the most points, and its daily history
recovery-checklist.md   the steps to take, most urgent first, for the open signals
evidence.json           what the last scan collected (credential report, instances per region, ...)
support-case-reply.txt  a draft reply to the AWS support case listing what was found

Answer AWS before the deadline in the Health event or email. Do not remove a quarantine policy AWS
attached until AWS confirms the case is resolved.
"""


def account_json(account: AwsAccount) -> dict[str, Any]:
    return {
        "aws_account_id": account.aws_account_id,
        "display_name": account.display_name,
        "status": account.status,
        "role_arn": account.role_arn,
        "tags": account.tags,
        "current_srs": account.current_srs,
        "connected_at": isoformat(account.connected_at),
        "verified_at": isoformat(account.verified_at),
        "last_scan_at": isoformat(account.last_scan_at),
        "last_successful_scan_at": isoformat(account.last_successful_scan_at),
        "capabilities": account.capabilities,
    }


async def build_panic_package(
    session: AsyncSession, session_factory: SessionOpener, account: AwsAccount, requested_by: str
) -> tuple[str, IO[bytes]]:
    """Write the package to a temporary file (in memory while small); returns its id and the file."""
    now = utcnow()
    export_id = new_id()
    open_rows = await open_signals(session, account.id)
    score = compute_score(open_rows, top_n=20)
    history = await score_history(session, account.id, 365, now.date())
    checklist = build_checklist(open_rows)
    # The account's evidence (the latest data of every key) and the scan that last changed it, read
    # together: a scan that completes in between changes both at once.
    last_scan = (
        await session.execute(
            select(Scan.id, Scan.finished_at, AwsAccount.evidence)
            .join(AwsAccount, AwsAccount.id == Scan.account_id)
            .where(Scan.account_id == account.id, Scan.status.in_(FINISHED), Scan.status != "failed")
            .order_by(Scan.finished_at.desc())
            .limit(1)
        )
    ).first()
    package: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    with zipfile.ZipFile(package, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        name = account.display_name or account.aws_account_id
        archive.writestr(
            "README.txt", README.format(account=account.aws_account_id, name=name, when=isoformat(now))
        )
        archive.writestr("account.json", json.dumps(account_json(account), indent=2))
        with archive.open("signals.json", "w") as handle:
            handle.write(b"[")
            first = True
            async for signal in iter_signals(session_factory, account.tenant_id, account.id):
                handle.write(
                    (b"" if first else b",") + b"\n" + json.dumps(signal_view(signal).as_json()).encode()
                )
                first = False
            handle.write(b"\n]\n")
        with archive.open("signals.csv", "w") as handle:
            async for chunk in stream_signals_csv(
                iter_signals(session_factory, account.tenant_id, account.id)
            ):
                handle.write(chunk.encode())
        archive.writestr(
            "score.json",
            json.dumps(
                {
                    "srs": score.score,
                    "uncapped_srs": score.uncapped_score,
                    "cap": None
                    if score.cap is None
                    else {"ceiling": score.cap.ceiling, "reasons": [t.reason for t in score.cap.triggers]},
                    "breakdown": [
                        {"scenario": b.scenario, "points_lost": b.points, "signals": b.signal_count}
                        for b in score.breakdown
                    ],
                    "top_signals": [
                        {"title": c.title, "severity": str(c.severity), "points": round(c.points, 2)}
                        for c in score.top_signals
                    ],
                    "history": [{"date": p.day.isoformat(), "srs": p.srs} for p in history],
                },
                indent=2,
            ),
        )
        archive.writestr("recovery-checklist.md", checklist_markdown(checklist))
        archive.writestr(
            "evidence.json",
            json.dumps(
                {
                    "scan_id": last_scan.id if last_scan else None,
                    "scanned_at": isoformat(last_scan.finished_at) if last_scan else None,
                    "evidence": last_scan.evidence if last_scan else {},
                },
                indent=2,
                default=str,
            ),
        )
        archive.writestr(
            "support-case-reply.txt",
            draft_support_reply(account.aws_account_id, open_rows, checklist, signed_by=requested_by),
        )
    return export_id, package


async def publish_panic_package(
    session: AsyncSession,
    session_factory: SessionOpener,
    settings: Settings,
    account: AwsAccount,
    requested_by: str,
) -> str:
    """Build the account's package, store it, and return its expiring download URL."""
    export_id, package = await build_panic_package(session, session_factory, account, requested_by)
    key = f"panic/{account.tenant_id}/{account.aws_account_id}/{export_id}.zip"
    with package:
        return await store(settings, key, export_id, package)
