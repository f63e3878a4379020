"""What ``/metrics`` shows while a benchmark runs: the benchmark's process serves it, and it is scraped
over HTTP at the end (before the server stops), then summarised family by family.

Runs any benchmark module unchanged, in this process, with ``/metrics`` served from it:

    python -m bench.metrics_probe bench.scan_throughput --accounts 200 --latency-ms 50 --regions default17

prints the benchmark's own output, then every ``vigilare_*`` family that has samples: counters as
totals (per label set, or summed by outcome when a family has many), histograms as count, mean and
the p50/p99 bucket bounds, gauges as values. ``bench.scheduler_scale --metrics-port`` uses the same
summary.
"""

from __future__ import annotations

import runpy
import sys
import urllib.request
from collections import defaultdict
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from vigilare.metrics import serve_metrics

# A family with more label sets than this is summed by its outcome (or first) label.
MAX_SERIES = 12


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return str(response.read().decode())


def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{key}={value}" for key, value in sorted(labels.items())) + "}" if labels else ""


def _bound(buckets: list[tuple[float, float]], count: float, share: float) -> str:
    """The upper bound of the bucket holding the ``share`` quantile ("p99 <= 1")."""
    for bound, cumulative in sorted(buckets):
        if cumulative >= share * count:
            return "+Inf" if bound == float("inf") else f"{bound:g}"
    return "+Inf"


def summarize(body: str, prefix: str = "vigilare_") -> list[str]:
    lines: list[str] = []
    for family in text_string_to_metric_families(body):
        if not family.name.startswith(prefix) or family.name.endswith("_created"):
            continue  # (prometheus-client's creation times parse as families of their own)
        if family.type == "histogram":
            series: dict[tuple[tuple[str, str], ...], dict[str, Any]] = defaultdict(
                lambda: {"buckets": [], "count": 0.0, "sum": 0.0}
            )
            for sample in family.samples:
                labels = {k: v for k, v in sample.labels.items() if k != "le"}
                entry = series[tuple(sorted(labels.items()))]
                if sample.name.endswith("_bucket"):
                    entry["buckets"].append((float(sample.labels["le"]), sample.value))
                elif sample.name.endswith("_count"):
                    entry["count"] = sample.value
                elif sample.name.endswith("_sum"):
                    entry["sum"] = sample.value
            if not any(entry["count"] for entry in series.values()):
                lines.append(f"{family.name}: no observations yet")
            for key, entry in sorted(series.items()):
                if not entry["count"]:
                    continue
                count, buckets = entry["count"], entry["buckets"]
                lines.append(
                    f"{family.name}{_labels(dict(key))}: count {count:.0f}, mean {entry['sum'] / count:.3g}, "
                    f"p50 <= {_bound(buckets, count, 0.5)}, p99 <= {_bound(buckets, count, 0.99)}"
                )
        else:
            values = [(sample.labels, sample.value) for sample in family.samples]
            if not values:
                lines.append(f"{family.name}: no samples yet (nothing counted)")
            elif len(values) > MAX_SERIES:
                has_outcome = any("outcome" in labels for labels, _ in values)
                group = "outcome" if has_outcome else next(iter(values[0][0]))
                sums: dict[str, float] = defaultdict(float)
                for labels, value in values:
                    sums[labels.get(group, "")] += value
                parts = ", ".join(f"{name} {total:.0f}" for name, total in sorted(sums.items()))
                lines.append(f"{family.name}: {len(values)} series; by {group}: {parts}")
            else:
                lines.extend(f"{family.name}{_labels(labels)}: {value:.6g}" for labels, value in values)
    return lines


def print_summary(port: int) -> None:
    lines = summarize(scrape(port))
    print(f"/metrics as scraped from http://127.0.0.1:{port}/metrics at the end ({len(lines)} series):")
    for line in lines:
        print(f"  {line}")


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m bench.metrics_probe <benchmark module> [its arguments]")
    module, arguments = sys.argv[1], sys.argv[2:]
    server = serve_metrics("127.0.0.1", 0, token="")
    print(f"metrics on http://127.0.0.1:{server.port}/metrics while {module} runs", flush=True)
    sys.argv = [module, *arguments]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        print_summary(server.port)
        server.shutdown()


if __name__ == "__main__":
    main()
