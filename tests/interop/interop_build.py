"""Generate, compile and run the .NET and Java clients of the interop tests.

Each tool chain builds one client per SOAP version, from the WSDL the live
gateway serves, the first time a test asks for it; the build is kept for the
rest of the session. A generator that dislikes a WSDL may still exit 0 and
fall back to "bare" methods, so the generated code's signatures are read
back and checked, not only the exit codes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import zeep
from sqlalchemy import func, select

from soapsms.store.db import transaction
from soapsms.store.models import Batch, Message
from soapsms.usecases.runtime import Runtime

HERE = Path(__file__).resolve().parent
PATHS = {"1.1": "/soap", "1.2": "/soap12"}
JAXWS_RT = Path("/usr/share/java/jaxws-rt.jar")
# Silences SAAJ's warning about the deprecated factory lookup Debian's jars use.
SAAJ_FACTORY = (
    "-Djavax.xml.soap.SAAJMetaFactory="
    "com.sun.xml.messaging.saaj.soap.SAAJMetaFactoryImpl"
)
TIMEOUT = 180

# What the scenario programs send (Scenario.cs, Scenario.java): UCS-2 text.
TEXT = "Serveur web01 arr\u00eat\u00e9 \u2013 INC000123"
STEPS = [
    "GetAccount",
    "SendMessage",
    "SendMessage replay",
    "GetStatus",
    "ListMessages",
    "CancelMessage",
    "wrong password is a fault",
    "HTTP Basic",
]


@dataclass
class Build:
    """One generated and compiled client; failures are kept to be reported."""

    version: str
    workdir: Path
    log: list[str] = field(default_factory=list)
    generated: str = ""
    run_command: list[str] = field(default_factory=list)
    failed: str = ""

    def step(self, what: str, command: list[str]) -> bool:
        result = run(command, self.workdir)
        shown = " ".join(str(c) for c in command)
        self.log.append(f"$ {shown}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            self.failed = f"{what} exited {result.returncode}"
        return result.returncode == 0

    def report(self) -> str:
        return "\n".join(self.log)


class Builds:
    """The session's builds of one tool chain, one per SOAP version."""

    def __init__(self, root: Path, build: Callable[[Path, Path, str], Build]) -> None:
        self.root = root
        self.build = build
        self.done: dict[str, Build] = {}

    def get(self, version: str, base_url: str) -> Build:
        if version not in self.done:
            prefix = f"soap{version.replace('.', '')}-"
            workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))
            wsdl = fetch_wsdl(base_url, version, workdir)
            self.done[version] = self.build(workdir, wsdl, version)
        return self.done[version]


def toolchain_or_skip(
    required: frozenset[str], name: str, package: str, needs: list[str | Path]
) -> None:
    """Skip for want of a tool chain, or fail when SOAPSMS_REQUIRE has interop."""
    missing = [
        str(need)
        for need in needs
        if (isinstance(need, Path) and not need.exists())
        or (isinstance(need, str) and shutil.which(need) is None)
    ]
    if not missing:
        return
    reason = (
        f"{name} tool chain missing ({', '.join(missing)}): "
        f"apt-get install {package} (.ci/run installs it)"
    )
    if "interop" in required:
        pytest.fail(f"SOAPSMS_REQUIRE=interop but the {reason}")
    pytest.skip(reason)


def _loopback_env() -> dict[str, str]:
    # Mono honours http_proxy; the gateway under test is on loopback.
    return {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in {"http_proxy", "all_proxy"}
    } | {"no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_loopback_env(),
        check=False,
    )


def fetch_wsdl(base_url: str, version: str, workdir: Path) -> Path:
    response = requests.get(f"{base_url}{PATHS[version]}?wsdl", timeout=30)
    response.raise_for_status()
    path = workdir / ("soapsms.wsdl" if version == "1.1" else "soapsms12.wsdl")
    path.write_bytes(response.content)
    return path


# --- .NET (mono) ---------------------------------------------------------------


def build_dotnet(workdir: Path, wsdl: Path, version: str) -> Build:
    """`wsdl` → SmsService.cs (namespace SoapSms), then `mcs` with Scenario.cs."""
    build = Build(version, workdir)
    proxy = workdir / "SmsService.cs"
    protocol = ["-protocol:SOAP12"] if version == "1.2" else []
    command = ["wsdl", "-nologo", *protocol, "-n:SoapSms", f"-out:{proxy}", wsdl]
    if not build.step("wsdl", command) or not proxy.exists():
        return build
    build.generated = proxy.read_text(encoding="utf-8")
    exe = workdir / "scenario.exe"
    command = [
        "mcs",
        "-nologo",
        "-r:System.Web.Services",
        f"-out:{exe}",
        proxy,
        HERE / "Scenario.cs",
    ]
    if build.step("mcs", command):
        build.run_command = ["mono", exe]
    return build


def build_svcutil(workdir: Path, wsdl: Path, version: str) -> Build:
    """`svcutil` → a WCF client with data contracts (SmsService.cs), then `mcs`
    with ScenarioWcf.cs. Mono's svcutil reads a WSDL from a URL only."""
    build = Build(version, workdir)
    proxy = workdir / "SmsService.cs"
    command = ["svcutil", "--noLogo", "--noConfig", f"-o:{proxy}", wsdl.as_uri()]
    if not build.step("svcutil", command) or not proxy.exists():
        return build
    build.generated = proxy.read_text(encoding="utf-8")
    exe = workdir / "scenario.exe"
    command = [
        "mcs",
        "-nologo",
        "-r:System.ServiceModel",
        "-r:System.Runtime.Serialization",
        f"-out:{exe}",
        proxy,
        HERE / "ScenarioWcf.cs",
    ]
    if build.step("mcs", command):
        build.run_command = ["mono", exe]
    return build


def csharp_methods(source: str) -> dict[str, str]:
    """The proxy's synchronous methods, "Return Name(Type name, …)" by name."""
    bare = re.sub(r"\[System\.[^\]]*\]\s*", "", source)
    methods = re.findall(r"public ([\w.\[\]]+) (\w+)\(([^)]*)\) \{", bare)
    return {
        name: f"{returns} {name}({' '.join(params.split())})"
        for returns, name, params in methods
        if returns != "void"
    }


def csharp_soap_methods(source: str) -> dict[str, str]:
    """SoapDocumentMethod attributes: (SOAPAction, parameter style) by method."""
    found = re.findall(
        r'SoapDocumentMethodAttribute\("([^"]*)",[^\]]*ParameterStyle='
        r"System\.Web\.Services\.Protocols\.SoapParameterStyle\.(\w+)\)\]\s*"
        r"(?:\[return: [^\]]*\]\s*)?public [\w.\[\]]+ (\w+)\(",
        source,
    )
    return {name: f"{action} {style}" for action, style, name in found}


# --- Java (JAX-WS RI) ------------------------------------------------------------


def build_java(workdir: Path, wsdl: Path, version: str) -> Build:
    """`wsimport` → soapsms.client sources, then `javac` with Scenario.java."""
    build = Build(version, workdir)
    src, classes = workdir / "src", workdir / "classes"
    src.mkdir()
    classes.mkdir()
    # SOAP 1.2 bindings are an "extension" to JAX-WS 2.x: without the flag
    # wsimport exits 0 but drops the port and generates no service interface.
    extension = ["-extension"] if version == "1.2" else []
    command = ["wsimport", *extension, "-Xnocompile", "-s", src]
    if not build.step("wsimport", [*command, "-p", "soapsms.client", wsdl]):
        return build
    sei = src / "soapsms" / "client" / "SmsServicePortType.java"
    if not sei.exists():
        build.failed = "wsimport generated no SmsServicePortType"
        return build
    build.generated = sei.read_text(encoding="utf-8")
    sources = sorted(src.rglob("*.java"))
    command = [
        "javac",
        "-nowarn",
        "-encoding",
        "UTF-8",
        "-cp",
        JAXWS_RT,
        "-d",
        classes,
        *sources,
        HERE / "Scenario.java",
        HERE / "UsernameTokenHandler.java",
    ]
    if build.step("javac", command):
        classpath = f"{JAXWS_RT}{os.pathsep}{classes}"
        build.run_command = ["java", SAAJ_FACTORY, "-cp", classpath, "Scenario"]
    return build


def java_methods(source: str) -> dict[str, str]:
    """The service interface's methods, "Return name(Type name, …)" by name."""
    bare = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    bare = re.sub(r"@\w+(\([^)]*\))?", "", bare)
    methods = re.findall(r"public (\w+) (\w+)\(([^)]*)\);", bare)
    return {
        name: f"{returns} {name}({' '.join(params.split())})"
        for returns, name, params in methods
    }


def java_wrappers(source: str) -> dict[str, str]:
    """@WebMethod action and @RequestWrapper element, by operation."""
    found = re.findall(
        r'@WebMethod\(operationName = "(\w+)", action = "([^"]*)"\)\s*'
        r"@WebResult\([^)]*\)\s*"
        r'@RequestWrapper\(localName = "(\w+)"',
        source,
    )
    return {op: f"{action} {wrapper}" for op, action, wrapper in found}


# --- running a scenario ----------------------------------------------------------


def run_scenario(build: Build, base_url: str, reference: str, steps: list[str]) -> str:
    """Run the compiled scenario against the gateway at `base_url`: its output."""
    assert build.run_command, f"{build.failed}:\n{build.report()}"
    command = [
        *build.run_command,
        base_url,
        PATHS[build.version],
        "acme",
        "s3cret",
        reference,
    ]
    result = run(command, build.workdir)
    assert result.returncode == 0 and "SCENARIO OK" in result.stdout, (
        f"scenario failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    lines = result.stdout.splitlines()
    assert f"soap={build.version}" in lines
    assert [line[3:] for line in lines if line.startswith("ok ")] == steps
    return result.stdout


def check_store(
    runtime: Runtime, client: zeep.Client, output: str, reference: str
) -> None:
    """What the generated client did is what the gateway stored."""
    match = re.search(r"^batch=(\w+)$", output, re.M)
    assert match, output
    batch_id = match.group(1)
    statuses = client.service.GetStatus(
        Auth={"AccountId": "acme", "Password": "s3cret"}, BatchId=batch_id
    )
    assert sorted(s.Status for s in statuses) == ["CANCELLED", "QUEUED"]
    assert {s.ClientReference for s in statuses} == {reference}
    with transaction(runtime.engine) as conn:
        batches = conn.scalar(
            select(func.count())
            .select_from(Batch)
            .where(Batch.client_reference == reference)
        )
        texts = conn.scalars(
            select(Message.text).where(Message.batch_id == batch_id)
        ).all()
    assert batches == 1  # the replay sent nothing new
    assert texts == [TEXT, TEXT]  # UTF-8 survived the generated stack
