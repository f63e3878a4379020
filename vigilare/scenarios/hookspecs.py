"""The hooks a Vigilare plugin may implement.

Hooks are synchronous and only *register* things: detection itself (``Scenario.detect``) is awaited
by the scanner, outside pluggy. Every hook is optional; each returns a list, and the results of all
plugins are merged (a duplicate scenario id or data key is refused at load time).
"""

from __future__ import annotations

import pluggy

from vigilare.plugin import PROJECT_NAME, Collector, Scenario

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
