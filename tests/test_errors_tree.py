"""Every exception class lives in soapsms.errors, as its docstring draws it."""

from __future__ import annotations

import ast
import inspect
import pathlib
import re

import soapsms
from soapsms import errors

PACKAGE = pathlib.Path(soapsms.__file__).parent
# Private signals, not errors: the fast path hands a request to Spyne; a
# streamed download's writer stops when the client went away.
ALLOWED_ELSEWHERE = {("soap/fast_path.py", "_NotOurs"), ("web/stream.py", "_Closed")}
_BASES = {"Exception", "BaseException", "ValueError"}


def _drawn() -> dict[str, str | None]:
    """Class name -> its parent, from the tree in errors' docstring."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^(    [│ ]*(?:├── |└── )?)([A-Z]\w+)(\s|$)", line)
        if match is None:
            continue
        depth, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_the_tree_draws_every_class_with_its_parent() -> None:
    classes = {
        name: cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, BaseException)
    }
    drawn = _drawn()
    assert set(drawn) == set(classes)
    for name, parent in drawn.items():
        base = classes[name].__bases__[0]
        assert (base.__name__ if parent else None) == (parent or None), name
        if parent is None:
            assert base is Exception


def test_no_exception_class_is_defined_elsewhere() -> None:
    elsewhere = set()
    for path in PACKAGE.rglob("*.py"):
        module = path.relative_to(PACKAGE).as_posix()
        if module == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {ast.unparse(b).split(".")[-1] for b in node.bases}
            if bases & (_BASES | set(_drawn())):
                elsewhere.add((module, node.name))
    assert elsewhere == ALLOWED_ELSEWHERE
