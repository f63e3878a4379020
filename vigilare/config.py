"""Configuration, read once from ``VIGILARE_*`` environment variables.

Every variable is documented in the README's configuration table. ``get_settings()`` reads the
environment once per process; code that needs another configuration (tests, the demo) builds a
``Settings`` with ``Settings.from_env(overrides)`` and passes it explicitly.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import msgspec

PREFIX = "VIGILARE_"


class ConfigError(Exception):
    """The configuration cannot be used; the message tells the operator what to change."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    env: str = "development"
    data_dir: str = ".vigilare"
    database_url: str = ""
    # The URL the API and workers connect with: a role that owns no table and is subject to
    # row-level security (the migration creates ``vigilare_app``). Empty: ``database_url``, whose
    # role then only switches, transaction by transaction, to vigilare_app or vigilare_system.
    database_app_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    # PostgreSQL connections per process: kept open (pool size) and opened beyond it at peaks (closed
    # when returned). With `vigilare serve --workers N`, N x (pool + overflow), plus the workers',
    # must stay under the server's max_connections.
    db_pool_size: int = 20
    db_max_overflow: int = 10
    # Requests per minute per client on the whole API; 0 turns the limit off.
    rate_limit_per_minute: int = 600
    # Failed logins allowed per email (and per client address, x4) in a 15-minute window.
    login_max_failures: int = 5
    # Take the client address from X-Forwarded-For, this many entries from the right: one per
    # proxy of ours in front of the API (the left is whatever the client wrote).
    trust_forwarded_for: bool = False
    trusted_proxy_hops: int = 1
    # arq queue name; separate deployments (or test runs) sharing one Redis use different names.
    queue_name: str = "vigilare:queue"
    # The outbox relay's period: how soon a job the queue did not take at commit time (Redis down,
    # or the process died right after the commit), or lost (a Redis restart), is handed over again.
    outbox_relay_seconds: float = 5.0
    # Scans: concurrent AWS calls per account scan, the lease that keeps scans of one account from
    # overlapping (renewed while a scan runs; a dead worker's scan is taken over once it lapses),
    # the scheduler's tick, and the bound on a whole scan.
    scan_max_concurrency: int = 8
    # Full scans (first, manual, verify, event: every key in every region) one worker process runs
    # at once; the others wait their turn, their lease renewed (vigilare.scans.capacity). Scheduled
    # scans that collect only what is due are not counted.
    scan_full_concurrency: int = 20
    scan_lease_seconds: int = 60
    # AWS calls botocore has nothing operation-specific for are signed and sent by Vigilare with
    # botocore's models, serializers, parsers and HTTP session (vigilare.aws.direct): a third of the
    # CPU. False sends every call through botocore's client.
    aws_direct_calls: bool = True
    # 10 s: a tick dispatches what fell due since the last one, so a short tick keeps both the
    # start lag and each tick's work small (100,000 accounts: ~2,500 scans a tick).
    scheduler_tick_seconds: int = 10
    scan_timeout_seconds: int = 240
    # Comma-separated regions to scan instead of every enabled region (empty: every enabled region).
    # For a customer whose SCPs deny other regions, or a local stand-in.
    scan_regions: str = ""
    # Comma-separated plugin (entry point) names not to load, e.g. a misbehaving third-party plugin;
    # decided before the plugin is imported, so it also switches off one that fails on import.
    disabled_plugins: str = ""
    # Comma-separated third-party plugin names to load, and no others (empty: every installed one).
    # Built-ins always load unless disabled; "builtin" alone loads no third-party plugin.
    plugins: str = ""
    # Push ingest (POST /ingest/aws-events): events accepted per account per minute (0: no limit),
    # and after how many seconds an event stored but not processed has its job queued again.
    ingest_rate_limit_per_minute: int = 600
    ingest_retry_seconds: int = 60
    # Lifetime of panic package download links (presigned S3 or signed local URLs).
    export_url_ttl_seconds: int = 900
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "Vigilare <alerts@vigilare.local>"
    smtp_starttls: bool = True
    aws_endpoint_url: str = ""
    sentinel_account_id: str = "000000000000"
    role_name: str = "VigilareAudit"
    export_bucket: str = ""
    stripe_api_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_price_solo: str = ""
    stripe_price_team: str = ""
    stripe_price_agency: str = ""
    stripe_api_base: str = "https://api.stripe.com"
    slack_client_id: str = ""
    slack_client_secret: str = ""
    slack_api_url: str = "https://slack.com/api/"
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    # Where the browser lands after the Slack install (empty: the console's integrations page,
    # {public_url}/app/settings/integrations).
    slack_install_redirect_url: str = ""
    # /metrics: the bearer token Prometheus must send (API and workers); without it /metrics is
    # open in development and not served by the API in production.
    metrics_token: str = ""
    # Alert deliveries: first retry after this many seconds, doubling each attempt (Retry-After wins).
    alert_retry_base_seconds: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``VIGILARE_*`` variables, then apply keyword overrides."""
        environ = os.environ if environ is None else environ
        raw: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            value = environ.get(PREFIX + field.name.upper())
            if value is not None and value != "":
                raw[field.name] = value
        raw.update(overrides)
        try:
            settings = msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"invalid configuration: {_env_name(str(exc))}") from exc
        return settings.finalised()

    def finalised(self) -> Settings:
        """Fill in derived defaults and enforce the production rules."""
        if self.env not in ("development", "production"):
            raise ConfigError("VIGILARE_ENV must be 'development' or 'production'")
        if self.trusted_proxy_hops < 1:
            raise ConfigError("VIGILARE_TRUSTED_PROXY_HOPS must be at least 1 (the proxy in front of it)")
        if self.outbox_relay_seconds <= 0:
            raise ConfigError("VIGILARE_OUTBOX_RELAY_SECONDS must be positive")
        if self.scan_full_concurrency < 1:
            raise ConfigError("VIGILARE_SCAN_FULL_CONCURRENCY must be at least 1")
        database_url = self.database_url
        secret_key = self.secret_key
        if self.env == "production":
            if not secret_key:
                raise ConfigError("VIGILARE_ENV=production requires VIGILARE_SECRET_KEY")
            if len(secret_key) < 32:
                raise ConfigError("VIGILARE_SECRET_KEY must be at least 32 characters")
            if not database_url or database_url.startswith("sqlite"):
                raise ConfigError(
                    "VIGILARE_ENV=production requires VIGILARE_DATABASE_URL pointing at PostgreSQL "
                    "(postgresql+asyncpg://...); SQLite is for development only"
                )
        if not database_url:
            database_url = f"sqlite+aiosqlite:///{Path(self.data_dir).resolve() / 'vigilare.db'}"
        if self.database_app_url and (
            database_url.startswith("sqlite") or self.database_app_url.startswith("sqlite")
        ):
            raise ConfigError(
                "VIGILARE_DATABASE_APP_URL is the application role on PostgreSQL, beside a PostgreSQL "
                "VIGILARE_DATABASE_URL; SQLite has one connection for everything"
            )
        if not secret_key:
            secret_key = _development_secret_key(Path(self.data_dir))
        return msgspec.structs.replace(self, database_url=database_url, secret_key=secret_key)

    @property
    def disabled_plugin_names(self) -> tuple[str, ...]:
        return tuple(sorted({name.strip() for name in self.disabled_plugins.split(",") if name.strip()}))

    @property
    def allowed_plugin_names(self) -> tuple[str, ...] | None:
        """VIGILARE_PLUGINS as names, or None when unset (every installed plugin may load)."""
        if not self.plugins.strip():
            return None
        return tuple(sorted({name.strip() for name in self.plugins.split(",") if name.strip()}))

    @property
    def scan_region_list(self) -> list[str] | None:
        regions = [region.strip() for region in self.scan_regions.split(",") if region.strip()]
        return regions or None

    @property
    def slack_install_redirect(self) -> str:
        return self.slack_install_redirect_url or f"{self.public_url.rstrip('/')}/app/settings/integrations"

    @property
    def app_database_url(self) -> str:
        """Where the API and workers connect (migrations use ``database_url``, the tables' owner)."""
        return self.database_app_url or self.database_url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _env_name(message: str) -> str:
    # msgspec says "... - at `$.smtp_port`": name the variable the operator sets instead.
    if "`$." in message:
        head, _, field = message.partition("`$.")
        return f"{PREFIX}{field.rstrip('`').upper()}: {head.rstrip(' -')}"
    return message


def _development_secret_key(data_dir: Path) -> str:
    """A random key kept in the data folder, so development tokens survive restarts."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings.from_env()
