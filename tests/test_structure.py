"""The layout's rules, checked: imports point down, errors map to statuses, names exist."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import elanus
from elanus import errors

PACKAGE = Path(elanus.__file__).parent
ROOT = PACKAGE.parent

# What each layer may import from elanus (besides itself): downward only.
ALLOWED = {
    "errors": set(),
    "schema": {"errors"},
    "expr": {"errors", "schema"},
    "storage": {"errors", "schema"},
    "index": {"errors", "schema"},
    "engine": {"errors", "schema", "expr", "storage", "index"},
    "server": {"errors", "schema", "engine", "__init__"},
    "client": {"errors", "schema", "engine", "server"},
    "cli": {"errors", "schema", "engine", "server", "client", "__init__"},
}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if rel.parts else "__init__"


def _elanus_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "elanus":
                found.add(parts[1] if len(parts) > 1 else "__init__")
    return found


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py")
                                        if _layer(p) in ALLOWED), ids=str)
def test_layers_import_only_downward(path: Path) -> None:
    layer = _layer(path)
    bad = _elanus_imports(path) - ALLOWED[layer] - {layer}
    assert not bad, f"{path.relative_to(ROOT)} ({layer}) imports {sorted(bad)}"


def test_protobuf_lives_only_in_the_protocol_edge() -> None:
    for path in PACKAGE.rglob("*.py"):
        if _layer(path) in ("server", "client"):
            continue
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) (pymilvus|grpc|google\.protobuf)", text, re.MULTILINE), path


def test_every_error_class_maps_to_a_status() -> None:
    from elanus.server.grpc.status import to_status

    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.ElanusError):
            assert isinstance(cls.code, int) and cls.code > 0
            exc = cls.__new__(cls)
            Exception.__init__(exc, "x")
            assert to_status(exc).code == cls.code


@pytest.mark.parametrize("module", ["elanus", "elanus.schema", "elanus.expr"])
def test_every_all_name_exists(module: str) -> None:
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert getattr(mod, name) is not None


def test_every_cli_command_has_help_and_a_readme_line() -> None:
    from elanus.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    readme = (ROOT / "README.md").read_text()
    for name, command in sub.choices.items():
        assert command.description, name
        assert re.search(rf"`elanus {name}\b", readme), name
