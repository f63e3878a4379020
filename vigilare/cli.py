"""The ``vigilare`` command: serve, migrate, worker, plugins, demo."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from vigilare.config import ConfigError, Settings, get_settings


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from vigilare.api.accesslog import log_config
    from vigilare.api.app import create_app
    from vigilare.scans.registry import load_at_startup

    load_at_startup(settings)  # here too, so a broken plugin is one clear line, not uvicorn's traceback
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "proxy_headers": False,
        "log_level": "info",
        "access_log": not args.no_access_log,
        "log_config": log_config(),  # uvicorn's, with a cheaper access line (vigilare.api.accesslog)
        "lifespan": "on",
    }
    if args.workers == 1:
        uvicorn.run(create_app(settings), **options)
        return 0
    check_workers(settings, args.workers)
    from vigilare.metrics import prepare_multiprocess

    # Before the processes start: each records its samples in this folder, and /metrics (whichever
    # process answers) adds them all up.
    prepare_multiprocess()
    # Each worker process builds its own app (its own pool, Redis and queue clients) from the same
    # environment; they share the listening socket.
    uvicorn.run("vigilare.api.app:create_app_from_environment", factory=True, workers=args.workers, **options)
    return 0


def check_workers(settings: Settings, workers: int) -> None:
    """Several API processes need what they share to live outside them."""
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    if not settings.redis_url:
        raise ConfigError(
            "`vigilare serve --workers N` (N > 1) needs VIGILARE_REDIS_URL: rate limits and login "
            "throttling are counted in Redis so that they hold across the processes, and jobs run in "
            "`vigilare worker` processes"
        )
    if settings.is_sqlite:
        raise ConfigError("`vigilare serve --workers N` (N > 1) needs PostgreSQL (VIGILARE_DATABASE_URL)")


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from vigilare.db.migrate import upgrade_to_head

    upgrade_to_head(settings.database_url)
    print("database schema is at head")
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.redis_url:
        raise ConfigError("`vigilare worker` needs VIGILARE_REDIS_URL (without it the API runs jobs itself)")
    if args.processes < 0:
        raise ConfigError("--processes must be at least 1 (0: one per core)")
    from vigilare.jobs.processes import default_processes, run_one, run_workers
    from vigilare.scans.registry import load_at_startup

    load_at_startup(settings)  # before connecting or starting processes: a broken plugin is one clear line
    processes = args.processes or default_processes()
    if processes > 1:
        return run_workers(settings, processes, args.metrics_host, args.metrics_port)
    from vigilare.metrics import serve_metrics

    server = (
        serve_metrics(args.metrics_host, args.metrics_port, settings.metrics_token)
        if args.metrics_port
        else None
    )
    try:
        run_one(settings)
    finally:
        if server is not None:
            server.shutdown()
    return 0


def _plugins(settings: Settings, _args: argparse.Namespace) -> int:
    from vigilare.scans.registry import plugin_selection
    from vigilare.scenarios.manager import inspect_plugins

    report = inspect_plugins(selection=plugin_selection(settings))
    rows = [("PLUGIN", "VERSION", "ORIGIN", "SCENARIOS", "STATUS", "DATA")]
    for plugin in report.plugins:
        status = (
            plugin.status if plugin.status in ("loaded", "failed") else f"{plugin.status}: {plugin.reason}"
        )
        rows.append(
            (
                plugin.name,
                plugin.version,
                plugin.origin,
                ", ".join(plugin.scenario_ids) or "-",
                status,
                ", ".join(plugin.collector_keys) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[5])
    # Then the event handlers: what reads pushed AWS events, for which scenario, resolved how.
    owners = {handler: plugin.name for plugin in report.plugins for handler in plugin.event_handler_ids}
    for handler in report.registry.event_handlers.values():
        sources = ", ".join(handler.sources)
        print(f"EVENT-HANDLER {handler.id} ({owners.get(handler.id, '?')}): {sources} -> {handler.scenario}")
        print(f"  resolve rule: {handler.resolve_rule}")
    for name in report.unknown_names:
        print(f"vigilare: warning: no installed scenario plugin is named {name!r}", file=sys.stderr)
    for warning in report.warnings:
        print(f"vigilare: warning: {warning}", file=sys.stderr)
    for error in report.errors:
        print(f"vigilare: plugin {error.plugin!r} failed to load: {error}", file=sys.stderr)
    return 1 if report.errors else 0


def _demo(_settings: Settings, args: argparse.Namespace) -> int:
    from vigilare.demo import main as demo_main

    return demo_main(args.data_dir, serve=not args.no_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigilare", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes sharing the port (one per core; needs Redis and PostgreSQL when > 1)",
    )
    serve.add_argument("--no-access-log", action="store_true", help="do not log a line per request")
    serve.set_defaults(handler=_serve)
    migrate = commands.add_parser("migrate", help="bring the database schema to head")
    migrate.set_defaults(handler=_migrate)
    worker = commands.add_parser("worker", help="run arq worker processes (needs VIGILARE_REDIS_URL)")
    worker.add_argument(
        "--processes", type=int, default=0, help="worker processes to run (default 0: one per core)"
    )
    worker.add_argument(
        "--metrics-port", type=int, default=0, help="serve /metrics of all its processes here (default: off)"
    )
    worker.add_argument("--metrics-host", default="127.0.0.1", help="address of the metrics port")
    worker.set_defaults(handler=_worker)
    plugins = commands.add_parser("plugins", help="list the scenario plugins found, with version and origin")
    plugins.set_defaults(handler=_plugins)
    demo = commands.add_parser(
        "demo", help="the whole product in one command: a local AWS sandbox, two accounts"
    )
    demo.add_argument("--no-serve", action="store_true", help="exit after the report instead of serving")
    demo.add_argument("--data-dir", help="keep the demo's SQLite database here (default: a temporary folder)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()
    except ConfigError as exc:
        print(f"vigilare: {exc}", file=sys.stderr)
        return 2
    from vigilare.scenarios.manager import PluginLoadError

    try:
        return int(args.handler(settings, args))
    except ConfigError as exc:
        print(f"vigilare: {exc}", file=sys.stderr)
        return 2
    except PluginLoadError as exc:
        print(f"vigilare: cannot start: {exc}", file=sys.stderr)
        print(
            f"vigilare: fix or uninstall plugin {exc.plugin!r}, or switch it off with "
            f"VIGILARE_DISABLED_PLUGINS={exc.plugin}; `vigilare plugins` lists every plugin and its status",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
