"""Stored accounts for tests of the scan job: a tenant and its connected account in the database,
the account's role in the AWS sandbox trusting Vigilare, so the real scan job can scan it."""

from __future__ import annotations

from tests.support.alerts import new_tenant_and_account
from tests.support.aws import SENTINEL_ACCOUNT_ID
from vigilare.accounts.models import AwsAccount
from vigilare.db.engine import SessionFactory
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed import register_customer_role


async def store_connected_account(
    db: SessionFactory, sandbox: Sandbox, aws_account_id: str | None = None
) -> AwsAccount:
    """A new tenant's active account (``aws_account_id``, or the default one), stored and committed."""
    tenant, account = new_tenant_and_account()
    if aws_account_id is not None:
        account.aws_account_id = aws_account_id
    register_customer_role(
        sandbox, account.aws_account_id, account.role_name, account.external_id, SENTINEL_ACCOUNT_ID
    )
    async with db() as session:
        session.add(tenant)
        await session.flush()
        session.add(account)
        await session.commit()
    return account
