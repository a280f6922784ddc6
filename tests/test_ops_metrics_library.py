"""What soapsms.metrics takes from prometheus_client beyond its public API:
its value class, chosen again once PROMETHEUS_MULTIPROC_DIR is set. This fails
when prometheus_client changes how it picks that class."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def test_metrics_made_after_the_directory_is_set_count_in_files(
    tmp_path: Path,
) -> None:
    # prometheus_client imported first, as gunicorn's master does before
    # `soapsms serve` sets the directory: it chose in-memory values then.
    script = textwrap.dedent(
        f"""
        import os
        import prometheus_client
        from prometheus_client import values
        assert values.ValueClass is values.MutexValue
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = {str(tmp_path)!r}
        from soapsms import metrics
        metrics.get().soap_requests.labels("SendMessage", "ok").inc()
        assert values.ValueClass is not values.MutexValue
        print(os.getpid())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
    )
    assert done.returncode == 0, done.stderr
    pid = done.stdout.strip()
    assert [p.name for p in tmp_path.iterdir()] == [f"counter_{pid}.db"]
