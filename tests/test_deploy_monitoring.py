"""The shipped Prometheus alert rules and Grafana dashboard: the rules parse
and fire as their unit tests say (Debian's `promtool`), and every metric they
and the dashboard query is one soapsms exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from soapsms import metrics
from soapsms.dispatch.metrics_server import QueueCollector
from soapsms.store.migrate import upgrade
from soapsms.usecases.runtime import Runtime
from tests.conftest import make_settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
RULES = DEPLOY / "prometheus" / "soapsms-alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "soapsms-dashboard.json"
_NAME = re.compile(r"\bsoapsms_[a-z_]+")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if "prometheus" in os.environ.get("SOAPSMS_REQUIRE", ""):
            pytest.fail("SOAPSMS_REQUIRE has prometheus but promtool is missing")
        pytest.skip("promtool (Debian's prometheus package) is not installed")
    return found


def _exported(runtime: Runtime) -> set[str]:
    """The metric family names soapsms exports, counters and gauges."""
    names = {family.name for family in metrics.get().registry.collect()}
    names |= {family.name for family in QueueCollector(runtime).collect()}
    return names


def _family(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_alert_rules_parse_and_fire_as_their_tests_say():
    promtool = _promtool()
    for argv in (
        ["check", "rules", str(RULES)],
        ["test", "rules", "soapsms-alerts.test.yml"],
    ):
        done = subprocess.run(
            [promtool, *argv],
            cwd=RULES.parent,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_rules_and_dashboard_query_only_metrics_that_exist(sqlite_url):
    runtime = Runtime(make_settings(sqlite_url))
    upgrade(runtime.engine)
    try:
        exported = _exported(runtime)
    finally:
        runtime.close()
    assert "soapsms_dispatch_queue_depth" in exported
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(queries) >= 10
    rules = RULES.read_text()
    for where, text in [("rules", rules), *(("dashboard", q) for q in queries)]:
        for name in _NAME.findall(text):
            assert _family(name) in exported, f"{where}: {name} is not exported"
    # The dashboard shows what operators ask first.
    shown = " ".join(queries)
    for family in (
        "soapsms_dispatch_queue_depth",
        "soapsms_dispatch_oldest_due_age_seconds",
        "soapsms_dispatch_heartbeat_age_seconds",
        "soapsms_message_status_changes_total",
        "soapsms_store_up",
    ):
        assert family in shown
