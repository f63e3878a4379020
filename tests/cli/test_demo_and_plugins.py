"""`vigilare demo --no-serve` end to end (as CI and newcomers run it), and `vigilare plugins`."""

from __future__ import annotations

import re
import sys

import pytest

from tests.support.process import run_cli
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
    assert "Report ready in" in out
    # The console's address and the demo user's credentials, and the demo's accounts are there.
    assert re.search(r"Console:\s+http://127\.0\.0\.1:\d+/app/", out)
    assert "Log in as: demo@vigilare.local" in out and "Password:  vigilare-demo-password" in out
    assert "Its accounts overview lists 111122223333, 444455556666" in out
    assert (tmp_path / "demo" / "vigilare.db").exists()


def test_demo_says_what_to_install_without_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "moto.server", None)
    with pytest.raises(DemoUnavailable, match=r"pip install 'vigilare\[demo\]'"):
        require_demo_extra()


def test_plugins_lists_builtins_with_version_and_origin(tmp_path):
    result = run_cli(["plugins"], {"VIGILARE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["PLUGIN", "VERSION", "ORIGIN"]
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert "builtin" in by_name["iam"] and "iam" in by_name["iam"].split()[3]
    assert "builtin" in by_name["exposure"]
