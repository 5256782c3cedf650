"""The shape of the code: no module of ``outreach/`` imports itself back through others.

Issue 11 straightened a circle (follow-up, leads and outbox imported each other): lead statuses
moved to the Lead model, and the outbox knows nothing of leads. This keeps a circle from coming
back unnoticed. Read from the source with ``ast``, nothing is imported.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

from outreach.settings import PROJECT_ROOT


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted((PROJECT_ROOT / "outreach").rglob("*.py"))}


def imported_by(name: str, path: Path) -> set[str]:
    """The ``outreach`` modules this one imports, at module level and inside functions alike.

    Both count: an import inside a function closes a circle just as well, it only stops it from
    failing at start-up, which is how a circle creeps back in unnoticed (the modules still cannot
    be understood, tested or moved apart). The imports inside functions today defer start-up cost
    or an optional dependency (the CLI's commands, gspread for a Google Sheet) and close no circle.
    A module importing itself (``outreach.serve`` under ``__main__``, to run the imported copy) is
    no circle and is left out.
    """
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = source_of(node, package)
            for alias in node.names:  # "from outreach.leads import nagging" imports a module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {module for module in found if module in MODULES and module != name}


def source_of(node: ast.ImportFrom, package: list[str]) -> str:
    """The module a ``from ... import`` reads, a relative one ("from . import x") resolved."""
    if not node.level:
        return node.module or ""
    return ".".join([*package[:len(package) - node.level + 1], *([node.module] if node.module else [])])


def import_graph() -> dict[str, set[str]]:
    return {name: imported_by(name, path) for name, path in MODULES.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Each circle found by a depth-first walk, as the path that closes it ("a", "b", "a")."""
    found: list[list[str]] = []
    done: set[str] = set()

    def walk(module: str, path: list[str]) -> None:
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if target in path:
                found.append(path[path.index(target):] + [target])
            elif target not in done:
                walk(target, path)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            walk(module, [])
    return found


def test_outreach_has_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_walk_sees_the_imports_it_must_see() -> None:
    """Not passing because it found nothing: edges at module level, inside functions, of packages."""
    graph = import_graph()
    assert "outreach.mail.outbox" in graph["outreach.leads.nagging"]  # from outreach.mail.outbox import ...
    assert "outreach.sheet.google_sheet" in graph["outreach.runtime"]  # inside open_source()
    assert "outreach.clock" in graph["outreach.worker"]  # from outreach import clock
    assert not any(module.startswith("outreach.leads") for module in graph["outreach.mail.outbox"])


def test_a_circle_is_found_however_it_closes() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_imports_are_read_as_the_modules_they_name() -> None:
    def source(line: str) -> str:
        node = ast.parse(line).body[0]
        assert isinstance(node, ast.ImportFrom)
        return source_of(node, ["outreach", "leads"])

    assert source("from . import nagging") == "outreach.leads"
    assert source("from ..mail.outbox import Email") == "outreach.mail.outbox"
    assert source("from outreach.mail import outbox") == "outreach.mail"
