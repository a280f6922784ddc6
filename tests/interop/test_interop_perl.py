"""A Perl SOAP::Lite client (Debian's libsoap-lite-perl), written as Perl
integrators write it — no WSDL, operations by name, SOAP::Data arguments —
runs the integrator's scenario over SOAP 1.1 and 1.2; its GetAccount has no
arguments at all (<GetAccount xsi:nil="true"/>) and authenticates with HTTP
Basic after the server's challenge."""

from __future__ import annotations

import subprocess

import pytest
from interop_build import HERE, PATHS, STEPS, check_store, run

pytestmark = pytest.mark.interop

# Every step of the other clients; Basic is how its GetAccount logs in.
PERL_STEPS = [step for step in STEPS if step != "HTTP Basic"]


@pytest.fixture(scope="session")
def soap_lite(required: frozenset[str]) -> None:
    probe = subprocess.run(["perl", "-MSOAP::Lite", "-e1"], capture_output=True)
    if probe.returncode == 0:
        return
    reason = "SOAP::Lite missing: apt-get install libsoap-lite-perl (.ci/run does)"
    if "interop" in required:
        pytest.fail(f"SOAPSMS_REQUIRE=interop but {reason}")
    pytest.skip(reason)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_soap_lite_scenario(
    soap_lite, live, account, runtime, client, tmp_path, version
):
    reference = f"INC-perl-{version}"
    script = HERE / "scenario_soaplite.pl"
    argv = ["perl", script, live.url, PATHS[version], "acme", "s3cret", reference]
    result = run(argv, tmp_path)
    assert result.returncode == 0 and "SCENARIO OK" in result.stdout, (
        f"scenario failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    lines = result.stdout.splitlines()
    assert f"soap={version}" in lines
    assert [line[3:] for line in lines if line.startswith("ok ")] == PERL_STEPS
    check_store(runtime, client, result.stdout, reference)
