from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts import service
from vigilare.accounts.models import AwsAccount
from vigilare.accounts.onboarding import fallback_cli_script, terraform_snippet
from vigilare.accounts.schemas import (
    AccountCreatedOut,
    AccountIn,
    AccountListOut,
    AccountOut,
    AccountSummaryOut,
    MessageOut,
    PushStatusOut,
    VerifyOut,
)
from vigilare.auth.guards import requires_role
from vigilare.auth.roles import ADMIN, VIEWER, Principal
from vigilare.config import Settings
from vigilare.db.reads import TENANT_READ, ListingSource
from vigilare.errors import answers
from vigilare.ids import isoformat, utcnow


def account_out(account: AwsAccount, push: PushStatusOut) -> AccountOut:
    return AccountOut(
        aws_account_id=account.aws_account_id,
        display_name=account.display_name,
        status=account.status,
        current_srs=account.current_srs,
        connected_at=isoformat(account.connected_at) or "",
        last_scan_at=isoformat(account.last_scan_at),
        last_successful_scan_at=isoformat(account.last_successful_scan_at),
        tags=list(account.tags or []),
        external_id=account.external_id,
        role_arn=account.role_arn,
        verified_at=isoformat(account.verified_at),
        disconnected_at=isoformat(account.disconnected_at),
        capabilities=dict(account.capabilities or {}),
        push=push,
    )


class AccountsController(Controller):
    """The collection: connect an account, list them."""

    path = "/accounts"
    tags = ["Accounts"]

    @post(
        "",
        status_code=201,
        summary="Connect an AWS account",
        guards=[requires_role(ADMIN)],
        opt=answers(409),
    )
    async def connect(
        self,
        data: JSONBody[AccountIn],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
    ) -> AccountCreatedOut:
        account = await service.connect(
            db_session,
            principal,
            data.aws_account_id,
            data.display_name,
            data.tags,
            role_name=settings.role_name,
        )
        sentinel = settings.sentinel_account_id
        return AccountCreatedOut(
            aws_account_id=account.aws_account_id,
            external_id=account.external_id,
            sentinel_account_id=sentinel,
            status=account.status,
            terraform_snippet=terraform_snippet(account.role_name, sentinel, account.external_id),
            fallback_cli_script=fallback_cli_script(account.role_name, sentinel, account.external_id),
            role_name=account.role_name,
            role_arn=account.role_arn,
        )

    @get("", summary="List connected accounts", guards=[requires_role(VIEWER)], opt={TENANT_READ: True})
    async def list_accounts(
        self,
        listing_source: NamedDependency[ListingSource],
        tag: FromQuery[str | None] = None,
    ) -> AccountListOut:
        if listing_source.read is not None:
            listed = await service.read_account_list(listing_source.read, tag)
            return AccountListOut(accounts=listed, total=len(listed))
        accounts = await service.list_accounts(listing_source.orm_session(), tag)
        return AccountListOut(
            accounts=[
                AccountSummaryOut(
                    aws_account_id=a.aws_account_id,
                    display_name=a.display_name,
                    status=a.status,
                    current_srs=a.current_srs,
                    last_scan_at=isoformat(a.last_scan_at),
                    tags=list(a.tags or []),
                )
                for a in accounts
            ],
            total=len(accounts),
        )


class AccountController(Controller):
    """One account: details, verification, disconnection.

    Mounted under ``/accounts/{account_id}`` by the route table (``api/routes.py``), beside the
    account's scans, scores and exports.
    """

    path = "/"
    tags = ["Accounts"]

    @get("", summary="Get account details", guards=[requires_role(VIEWER)])
    async def get_account(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        push_status: NamedDependency[service.PushStatusReader],
    ) -> AccountOut:
        account = await service.get_account(db_session, account_id)
        return account_out(account, await push_status(db_session, account, utcnow()))

    @delete("", status_code=200, summary="Disconnect an account", guards=[requires_role(ADMIN)])
    async def disconnect(
        self, account_id: FromPath[str], db_session: NamedDependency[AsyncSession]
    ) -> MessageOut:
        await service.disconnect(db_session, account_id)
        return MessageOut(message="Account disconnected")

    @post(
        "/verify",
        status_code=200,
        summary="Verify IAM role and activate monitoring",
        guards=[requires_role(ADMIN)],
        opt=answers(409, 422),
    )
    async def verify(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        start_monitoring: NamedDependency[service.StartMonitoring],
    ) -> VerifyOut:
        account, scan_id = await service.verify(
            db_session,
            account_id,
            endpoint_url=settings.aws_endpoint_url or None,
            start_monitoring=start_monitoring,
        )
        return VerifyOut(
            aws_account_id=account.aws_account_id, status=account.status, first_scan_execution_arn=scan_id
        )
