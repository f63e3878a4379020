"""The ``vigilare`` command: serve, migrate, worker, plugins, demo."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from vigilare.config import ConfigError, Settings, get_settings


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from vigilare.api.app import create_app

    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        proxy_headers=False,
        log_level="info",
        lifespan="on",
    )
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from vigilare.db.migrate import upgrade_to_head

    upgrade_to_head(settings.database_url)
    print("database schema is at head")
    return 0


def _worker(settings: Settings, _args: argparse.Namespace) -> int:
    if not settings.redis_url:
        raise ConfigError("`vigilare worker` needs VIGILARE_REDIS_URL (without it the API runs jobs itself)")
    from vigilare.jobs.worker import create_worker

    create_worker(settings).run()
    return 0


def _plugins(settings: Settings, _args: argparse.Namespace) -> int:
    from vigilare.scenarios.manager import PluginLoadError, list_plugins

    try:
        plugins = list_plugins()
    except PluginLoadError as exc:
        print(f"vigilare: {exc}", file=sys.stderr)
        return 1
    disabled = set(settings.disabled_plugin_names)
    rows = [("PLUGIN", "VERSION", "ORIGIN", "SCENARIOS", "DATA")]
    for plugin in plugins:
        name = plugin.name + (" (disabled)" if plugin.name in disabled else "")
        rows.append(
            (
                name,
                plugin.version,
                plugin.origin,
                ", ".join(plugin.scenario_ids) or "-",
                ", ".join(plugin.collector_keys) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigilare", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_serve)
    migrate = commands.add_parser("migrate", help="bring the database schema to head")
    migrate.set_defaults(handler=_migrate)
    worker = commands.add_parser("worker", help="run an arq worker (needs VIGILARE_REDIS_URL)")
    worker.set_defaults(handler=_worker)
    plugins = commands.add_parser("plugins", help="list the scenario plugins found, with version and origin")
    plugins.set_defaults(handler=_plugins)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()
    except ConfigError as exc:
        print(f"vigilare: {exc}", file=sys.stderr)
        return 2
    try:
        return int(args.handler(settings, args))
    except ConfigError as exc:
        print(f"vigilare: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
