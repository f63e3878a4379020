"""Push routes: the account's set-up, and the endpoint the customer's EventBridge delivers to."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.auth.guards import requires_role
from vigilare.auth.roles import ADMIN, Principal
from vigilare.config import Settings
from vigilare.errors import answers
from vigilare.ingest import service
from vigilare.ingest.envelope import MAX_BODY_BYTES
from vigilare.ingest.keys import HEADER_NAME
from vigilare.ingest.schemas import EventAcceptedOut, PushSetupOut
from vigilare.ratelimit import Counter


class PushSetupController(Controller):
    """Mounted under ``/accounts/{account_id}`` by the route table."""

    path = "/push-setup"
    tags = ["Accounts"]

    @post(
        "",
        status_code=200,
        summary="Create or rotate the account's push ingest secret (EventBridge set-up)",
        description=(
            "For a verified account. Creates the ingest secret EventBridge sends in the header "
            "`header_name`, or rotates it (the replaced secret keeps working for 24 hours). The "
            "secret is shown only in this answer, with the Terraform and AWS CLI that set up the "
            "customer's EventBridge and a command that sends a test event."
        ),
        guards=[requires_role(ADMIN)],
        opt=answers(409),
    )
    async def set_up(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
    ) -> PushSetupOut:
        return await service.set_up_push(db_session, principal, account_id, settings)


class IngestController(Controller):
    path = "/ingest"
    tags = ["Push ingest"]

    @post(
        "/aws-events",
        status_code=202,
        summary="Receive an AWS event from the customer's EventBridge (API destination)",
        description=(
            f"Authenticated by the account's ingest secret in the `{HEADER_NAME}` header. The body is "
            f"the EventBridge event (at most {MAX_BODY_BYTES // 1024} KB; larger is 413); its `account` "
            "must be the account the secret belongs to. Any refused key is 401 with one body. The "
            "event is stored once by its `id` (a redelivery gets the same answer) and processed "
            "within seconds; 429 with Retry-After past the account's rate limit."
        ),
        opt=answers(401, 409, 413, 429, public=True, own_rate_limit=True),
        security=[],
        request_max_body_size=MAX_BODY_BYTES,
    )
    async def receive(
        self,
        request: Request[Any, Any, Any],
        unscoped_db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        counter: NamedDependency[Counter],
        client_address: NamedDependency[str],
        ingest_key: Annotated[
            str | None,
            Parameter(header=HEADER_NAME, required=False, description="The account's ingest secret"),
        ] = None,
    ) -> EventAcceptedOut:
        # The raw bytes: the body is checked as EventBridge sent it, never re-serialised first.
        body = await request.body()
        return await service.receive_event(
            unscoped_db_session, counter, settings, client_address, ingest_key, body
        )
