"""The package's shape (docs/architecture.md): imports run one way and inference stands without training."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "python-lib" / "street2shop"
#: Packages on the path of a search request or an evaluation: none may reach street2shop.training.
INFERENCE = ("street2shop.models", "street2shop.index", "street2shop.evaluation", "street2shop.serving", "street2shop.tagging")


def module_names(package: Path = PACKAGE) -> dict[str, Path]:
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[name] = path
    return names


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """Every street2shop module ``name`` imports, at module level or inside functions."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("street2shop"):
                yield target


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_names(package)
    return {name: set(imported_modules(name, path, modules)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for other in graph.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def test_the_package_has_no_import_cycle_function_level_imports_included():
    assert cycles(import_graph()) == []


def test_at_most_eight_plain_modules_at_the_top_of_the_package():
    plain = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(plain) <= 8, plain


def test_no_inference_module_reaches_training_even_through_other_modules():
    graph = import_graph()
    offenders = {
        name: sorted(m for m in reachable(graph, name) if m.startswith("street2shop.training"))
        for name in graph
        if name.startswith(INFERENCE)
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_every_package_init_names_its_entry_points():
    for init in PACKAGE.rglob("__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring and len(docstring) > 20, f"{init.relative_to(PACKAGE)} has no docstring naming its entry points"


def test_the_checker_sees_a_cycle_made_by_a_function_level_import(tmp_path):
    package = tmp_path / "street2shop"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text('"""A package."""\n')
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from street2shop.sub.b import thing\n")
    (package / "sub" / "b.py").write_text("def thing():\n    from street2shop import a\n    return a\n")
    (package / "c.py").write_text("from .sub import b\n")
    graph = import_graph(package)
    assert cycles(graph) == [["street2shop.a", "street2shop.sub.b"]]
    assert reachable(graph, "street2shop.c") == {"street2shop.sub.b", "street2shop.a"}
