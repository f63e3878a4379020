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
    VerifyOut,
)
from vigilare.api.state import AppServices
from vigilare.auth.roles import ADMIN, Principal
from vigilare.ids import isoformat


def account_out(account: AwsAccount) -> AccountOut:
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
    )


class AccountsController(Controller):
    path = "/accounts"
    tags = ["Accounts"]

    @post("", status_code=201, summary="Connect an AWS account", opt={"role": ADMIN})
    async def connect(
        self,
        data: JSONBody[AccountIn],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        app_services: NamedDependency[AppServices],
    ) -> AccountCreatedOut:
        settings = app_services.settings
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

    @post(
        "/{account_id:str}/verify",
        status_code=200,
        summary="Verify IAM role and activate monitoring",
        opt={"role": ADMIN},
    )
    async def verify(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        app_services: NamedDependency[AppServices],
        start_monitoring: NamedDependency[service.StartMonitoring],
    ) -> VerifyOut:
        account, scan_id = await service.verify(
            db_session,
            account_id,
            endpoint_url=app_services.settings.aws_endpoint_url or None,
            start_monitoring=start_monitoring,
        )
        return VerifyOut(
            aws_account_id=account.aws_account_id, status=account.status, first_scan_execution_arn=scan_id
        )

    @get("", summary="List connected accounts")
    async def list_accounts(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        tag: FromQuery[str | None] = None,
    ) -> AccountListOut:
        accounts = await service.list_accounts(db_session, tag)
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

    @get("/{account_id:str}", summary="Get account details")
    async def get_account(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> AccountOut:
        return account_out(await service.get_account(db_session, account_id))

    @delete("/{account_id:str}", status_code=200, summary="Disconnect an account", opt={"role": ADMIN})
    async def disconnect(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> MessageOut:
        await service.disconnect(db_session, account_id)
        return MessageOut(message="Account disconnected")
