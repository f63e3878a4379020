"""The route table: which controller answers each path.

Every domain keeps its controllers beside its service; this is the one place that mounts them.
Everything under ``/accounts/{account_id}`` is mounted by one router below: the account itself
(``accounts``), its scans and signals (``scans``), its score and checklist (``scoring``), its
exports (``exports``) and its push set-up (``ingest``).

Routes marked ``opt={"public": True}`` are served without a token; every other route is
authenticated by ``AuthenticationMiddleware`` and carries one ``requires_role(...)`` guard.
"""

from __future__ import annotations

from litestar import Router

from vigilare.accounts.controllers import AccountController, AccountsController
from vigilare.alerts.controllers import AlertRulesController, AlertsController, SlackIntegrationController
from vigilare.api.docs import docs_router
from vigilare.api.health import healthz, openapi_json, readyz
from vigilare.api.middleware import AuthenticationMiddleware
from vigilare.api.observability import metrics_endpoint
from vigilare.auth.controllers import AuthController
from vigilare.billing.controllers import BillingController, StripeWebhookController
from vigilare.exports.controllers import ExportsController, download_export
from vigilare.ingest.controllers import IngestController, PushSetupController
from vigilare.scans.controllers import ScansController
from vigilare.scoring.controllers import ScoreController
from vigilare.users.controllers import MeController, UsersController

ACCOUNT_PATH = "/accounts/{account_id:str}"


def api_router() -> Router:
    """A new router per app: a Litestar router can be registered in one app only."""
    one_account = Router(
        path=ACCOUNT_PATH,
        route_handlers=[
            AccountController,
            ScansController,
            ScoreController,
            ExportsController,
            PushSetupController,
        ],
    )
    return Router(
        path="/",
        route_handlers=[
            AuthController,
            MeController,
            UsersController,
            AccountsController,
            one_account,
            download_export,
            BillingController,
            StripeWebhookController,
            IngestController,
            AlertRulesController,
            AlertsController,
            SlackIntegrationController,
            healthz,
            readyz,
            metrics_endpoint,
            openapi_json,
            docs_router(),
        ],
        # On this router, not the app: Litestar's own /schema pages stay as they were, untouched.
        middleware=[AuthenticationMiddleware()],
    )
