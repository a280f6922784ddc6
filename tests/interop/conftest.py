"""Interop fixtures: each tool chain checked, and its builds kept, per session;
a fresh gateway for each scenario run."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from interop_build import (
    JAXWS_RT,
    Builds,
    build_dotnet,
    build_java,
    build_svcutil,
    check_store,
    run_scenario,
    toolchain_or_skip,
)


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    # The generated clients are the subject here, not the store: SQLite only.
    return sqlite_url


@pytest.fixture(scope="session")
def dotnet_builds(tmp_path_factory, required) -> Builds:
    toolchain_or_skip(required, "mono", "mono-devel", ["wsdl", "mcs", "mono"])
    return Builds(tmp_path_factory.mktemp("interop-dotnet"), build_dotnet)


@pytest.fixture(scope="session")
def wcf_builds(tmp_path_factory, required) -> Builds:
    toolchain_or_skip(required, "mono", "mono-devel", ["svcutil", "mcs", "mono"])
    return Builds(tmp_path_factory.mktemp("interop-wcf"), build_svcutil)


@pytest.fixture(scope="session")
def java_builds(tmp_path_factory, required) -> Builds:
    toolchain_or_skip(
        required,
        "JAX-WS",
        "jaxws default-jdk-headless",
        ["wsimport", "javac", "java", JAXWS_RT],
    )
    return Builds(tmp_path_factory.mktemp("interop-java"), build_java)


@pytest.fixture
def scenario(live, account, runtime, client) -> Callable[..., None]:
    """Run a compiled client's scenario against this test's gateway, then
    check through zeep and the store that the gateway did what it answered."""

    def run(builds: Builds, version: str, steps: list[str]) -> None:
        build = builds.get(version, live.url)
        reference = f"INC-{build.workdir.parent.name}-{version}"
        output = run_scenario(build, live.url, reference, steps)
        check_store(runtime, client, output, reference)

    return run
