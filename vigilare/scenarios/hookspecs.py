"""The hooks a Vigilare plugin may implement.

Hooks are synchronous and only *register* things: detection itself (``Scenario.detect``) is awaited
by the scanner, outside pluggy. Every hook is optional; each returns a list, and the results of all
plugins are merged (a duplicate scenario id, data key or event handler id is refused at load time).
"""

from __future__ import annotations

import pluggy

from vigilare.plugin import PROJECT_NAME, Collector, EventHandler, Scenario

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def vigilare_scenarios() -> list[type[Scenario]]:  # type: ignore[empty-body]
    """Return the scenario classes this plugin provides.

    Each class needs a unique ``id`` (a built-in's id is refused), and every data key in its
    ``requires`` must be provided by a collector (built in, or from :func:`vigilare_collectors`).
    """


@hookspec
def vigilare_collectors() -> list[Collector]:  # type: ignore[empty-body]
    """Return the collectors this plugin provides, for data keys no other plugin provides.

    A collector fetches one data key per scan (per enabled region when ``regional``); it runs only
    when a loaded scenario requires its key.
    """


@hookspec
def vigilare_event_handlers() -> list[type[EventHandler]]:  # type: ignore[empty-body]
    """Return the event handler classes this plugin provides, for events AWS pushes (EventBridge).

    Each class needs a unique ``id``, the ``sources`` (and optionally ``detail_types``) it reads, and
    the ``scenario`` whose findings it reports: a loaded scenario (its own plugin's or another's).
    Every handler whose ``matches`` accepts an event handles it; their findings go through the same
    checks and signal lifecycle as the scenario's scan findings.
    """
