"""Every configuration example the docs show loads as written, and the
connectors it names can be built."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from soapsms.config import load_settings, unknown_variables
from soapsms.dispatch.routing import build_connectors

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS += [ROOT / "deploy" / "README.md"]
_INI = re.compile(r"```ini\n(.*?)```", re.S)


def _ini_blocks() -> list[tuple[str, str]]:
    blocks = []
    for doc in DOCS:
        for n, block in enumerate(_INI.findall(doc.read_text())):
            blocks.append((f"{doc.relative_to(ROOT)}#{n + 1}", block))
    return blocks


@pytest.mark.parametrize(("where", "block"), _ini_blocks(), ids=lambda v: v[:40])
def test_ini_examples_in_the_docs_load(tmp_path, where, block):
    path = tmp_path / "example.ini"
    # A fragment of connectors and routes is shown without [soapsms].
    path.write_text(block if "[soapsms]" in block else "[soapsms]\n" + block)
    settings = load_settings(path, environ={})
    if settings.routes.configured():
        assert build_connectors(settings.routes)


def test_the_shipped_ini_example_loads():
    settings = load_settings(ROOT / "deploy" / "soapsms.ini.example", environ={})
    assert settings.database_url.startswith("sqlite:////"), "an absolute path"


def test_the_shipped_env_example_loads(tmp_path):
    env = {}
    for line in (ROOT / "deploy" / "soapsms.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    assert unknown_variables(env) == []
    ini = tmp_path / "soapsms.ini"
    ini.write_text((ROOT / "deploy" / "soapsms.ini.example").read_text())
    env["SOAPSMS_CONFIG"] = str(ini)
    settings = load_settings(environ=env)
    assert settings.database_url == env["SOAPSMS_DATABASE_URL"]
    assert settings.workers == int(env["SOAPSMS_WORKERS"])


_LINK = re.compile(r"\]\(([^)#:]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_in_the_docs_stay_inside_the_repository(doc):
    text = doc.read_text()
    assert "shared/contract" not in text
    for target in _LINK.findall(text):
        path = (doc.parent / target).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name}: {target}"


_COMMAND_ROW = re.compile(r"^\| `soapsms ([^`]*)`(.*?)\| ", re.M)


def _readme_commands() -> list[tuple[list[str], list[str]]]:
    """(subcommand words, options named) for each row of the README's table."""
    rows = []
    for first, rest in _COMMAND_ROW.findall((ROOT / "README.md").read_text()):
        words = []
        for word in first.split():
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            words.append(word)
        options = re.findall(r"--[a-z][a-z-]*", first + rest)
        rows.append((words, options))
    return rows


@pytest.mark.parametrize(
    ("words", "options"), _readme_commands(), ids=lambda v: " ".join(v)
)
def test_every_command_in_the_readme_exists_with_its_options(words, options, capsys):
    from soapsms import cli

    with pytest.raises(SystemExit) as done:
        cli.main([*words, "--help"])
    assert done.value.code == 0
    usage = capsys.readouterr().out
    for option in options:
        assert option in usage, f"soapsms {' '.join(words)}: {option}"
