"""`vigilare demo --no-serve` end to end (as CI and newcomers run it), and `vigilare plugins`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.process import run_cli, vigilare_env
from vigilare.demo import DemoUnavailable, require_demo_extra


def test_demo_runs_the_whole_product_and_prints_the_report(tmp_path):
    result = run_cli(
        ["demo", "--no-serve", "--data-dir", str(tmp_path / "demo")], {"NO_COLOR": "1"}, timeout=240
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "\x1b[" not in out  # plain text when not a terminal / NO_COLOR
    assert "Signed up and logged in" in out and "Connected and verified AWS account 111122223333" in out
    # The compromised account scores at most 10 (quarantine policy), the clean one 100 with no signals.
    rows = [line for line in out.splitlines() if line.startswith("│")]
    production = next(line for line in rows if "111122223333" in line and "Production" in line)
    staging = next(line for line in rows if "444455556666" in line and "Staging" in line)
    assert production.split("│")[-2].strip().isdigit() and int(production.split("│")[-2]) <= 10
    assert int(staging.split("│")[-2]) == 100
    assert "CRITICAL" in out and "quarantine" in out.lower()
    assert "Recovery checklist for 111122223333" in out and "1. " in out
    assert "Alert " in out and "Subject: [Vigilare]" in out and "oncall@demo-corp.example" in out
    # After the first scans, AWS Health's abuse report for the clean account arrives by push: the
    # signal and the alert follow within seconds.
    flat = " ".join(out.split())
    assert "Set up push for 444455556666" in flat
    assert "EventBridge delivered AWS Health Abuse Event" in flat and "answered 202 in" in flat
    assert re.search(r"\+\d+\.\d s signal CRITICAL abuse \(detected by event\): AWS abuse report", flat), flat
    assert "score of 444455556666: 100 -> " in flat
    assert int(flat.split("score of 444455556666: 100 -> ")[1].split()[0]) <= 10
    assert re.search(r"\+\d+\.\d s alert \w+: score \d+ at trigger, scenarios abuse", flat), flat
    assert "Push status of 444455556666: connected" in flat
    assert "Report ready in" in out
    # The console's address and the demo user's credentials, and the demo's accounts are there.
    assert re.search(r"Console:\s+http://127\.0\.0\.1:\d+/app/", out)
    assert "Log in as: demo@vigilare.local" in out and "Password:  vigilare-demo-password" in out
    assert "Its accounts overview lists 111122223333, 444455556666" in out
    assert (tmp_path / "demo" / "vigilare.db").exists()


@pytest.mark.parametrize("missing", ["moto.server", "vigilare_sandbox"])
def test_demo_says_what_to_install_without_the_extra(monkeypatch, missing):
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(DemoUnavailable, match=r"pip install 'vigilare\[demo\]'") as raised:
        require_demo_extra()
    assert "pip install -e ./sandbox -e '.[demo]'" in str(raised.value)


def test_demo_without_the_sandbox_exits_with_what_to_install(tmp_path):
    # The sandbox is its own distribution: `vigilare demo` imports it lazily and, when it is not
    # installed, stops before starting anything, saying what to install.
    blocked = (
        "import sys; sys.modules['vigilare_sandbox'] = None; from vigilare.cli import main; "
        f"sys.exit(main(['demo', '--no-serve', '--data-dir', {str(tmp_path / 'demo')!r}]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocked],
        env=vigilare_env({"NO_COLOR": "1"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "vigilare demo: the demo needs the local AWS sandbox (the vigilare-sandbox package" in result.stdout
    )
    assert "pip install 'vigilare[demo]'" in result.stdout
    assert not (tmp_path / "demo").exists()


def test_the_product_package_never_imports_the_sandbox_at_import_time():
    # Importing every product module (as the API and the worker do) must not pull the stand-in in.
    code = (
        "import importlib, pkgutil, sys, vigilare\n"
        "for module in pkgutil.walk_packages(vigilare.__path__, 'vigilare.'):\n"
        "    if not module.name.endswith('__main__'):\n"
        "        importlib.import_module(module.name)\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('vigilare_sandbox', 'moto')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=vigilare_env({}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_plugins_lists_builtins_with_version_and_origin(tmp_path):
    result = run_cli(["plugins"], {"VIGILARE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["PLUGIN", "VERSION", "ORIGIN"]
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert "builtin" in by_name["iam"] and "iam" in by_name["iam"].split()[3]
    assert "builtin" in by_name["exposure"]
