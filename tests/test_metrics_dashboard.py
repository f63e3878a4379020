"""docs/grafana-dashboard.json charts every metric family Vigilare records, and only those."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

from vigilare import metrics

DASHBOARD = Path(__file__).resolve().parents[1] / "docs" / "grafana-dashboard.json"


def _families() -> set[str]:
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, Counter | Gauge | Histogram):
            names.add(value._name)
    return names


def test_the_dashboard_charts_every_family():
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    charted = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for expr in expressions
        for name in re.findall(r"\bvigilare_[a-z_]+", expr)
    }
    assert _families() - charted == set()
    assert charted - _families() == set()
