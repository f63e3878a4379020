"""Issue 12 item 7: the onboarding role grants exactly what the collectors call, read-only.

The called operations are not listed by hand: a scan of the sandbox with every registered collector
records the requests the stand-in received, and each is mapped to its IAM action through botocore's
service models (tests/support/iam_actions.py). A collector added without its action in the
additions policy fails here, and the message says what to add.
"""

from __future__ import annotations

from tests.support.aws import ROLE_NAME, sentinel_session
from tests.support.iam_actions import action_exists, called_operation, is_read_only
from vigilare.accounts.onboarding import ADDITIONS_ACTIONS
from vigilare.scanner import ScanTarget, scan_account
from vigilare.scenarios.manager import ONLY_BUILTINS, load_registry
from vigilare_sandbox.seed import seed_compromised_account
from vigilare_sandbox.seed_invoices import add_past_due_invoice

ACCOUNT = "230987654321"
WHERE = "ADDITIONS_ACTIONS in vigilare/accounts/onboarding.py"


async def test_every_operation_a_scan_calls_is_granted_by_the_additions_policy(sandbox):
    seed_compromised_account(sandbox, ACCOUNT)
    add_past_due_invoice(sandbox, ACCOUNT)  # so AWS Payments' BatchGetFinancialRecord is called too
    # Vigilare's role grants what Vigilare's own collectors call; a third-party plugin (the example one
    # is installed in CI) names the actions it needs in its own documentation (docs/plugins.md).
    registry = load_registry(allowed=[ONLY_BUILTINS])
    with sandbox.recording() as log:
        report = await scan_account(
            ScanTarget(aws_account_id=ACCOUNT, role_name=ROLE_NAME, external_id="ext-policy"),
            registry.select(),
            collectors=registry.collectors,
            endpoint_url=sandbox.endpoint_url,
            regions=["us-east-1", "ap-southeast-2"],
            extra_data=list(registry.collectors),  # every collector, needed by a scenario or not
            base_session=sentinel_session(),
        )
    assert not report.collection_errors, report.collection_errors

    unknown = sorted(
        {
            f"{r.service} {r.method} {r.path} {r.target or r.params.get('Action', '')}"
            for r in log.requests
            if r.service != "sts" and called_operation(r) is None
        }
    )
    assert not unknown, f"requests no botocore model explains: {unknown}"
    # sts: AssumeRole is made with Vigilare's own identity, not the role's.
    called = {op for r in log.requests if r.service != "sts" and (op := called_operation(r)) is not None}
    needed = sorted({op.iam_action for op in called})
    missing = [action for action in needed if action not in ADDITIONS_ACTIONS]
    assert {"payments:ListFinancialRecords", "payments:BatchGetFinancialRecord"} <= set(needed)
    assert not missing, (
        "The collectors call actions the onboarding role does not grant. Add them to "
        f"{WHERE}: {', '.join(repr(action) for action in missing)}"
        + "".join(
            f"\n  {action}: called as {op.service}.{op.operation}"
            for action in missing
            for op in sorted(called, key=lambda o: o.operation)
            if op.iam_action == action
        )
    )


def test_every_granted_action_exists_and_is_read_only():
    assert len(set(ADDITIONS_ACTIONS)) == len(ADDITIONS_ACTIONS), "an action is listed twice"
    nonexistent = [action for action in ADDITIONS_ACTIONS if not action_exists(action)]
    assert not nonexistent, (
        f"{WHERE} grants actions AWS does not have (SESv2's actions use the ses: prefix): {nonexistent}"
    )
    writes = [action for action in ADDITIONS_ACTIONS if not is_read_only(action)]
    assert not writes, f"{WHERE} must stay read-only (Get/List/Describe...): remove {writes}"
