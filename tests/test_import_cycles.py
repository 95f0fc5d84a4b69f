"""No import cycles among hiddenstruct's modules (imports outside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import hiddenstruct

ROOT = Path(hiddenstruct.__file__).parent
KNOWN_CYCLES: list[set[str]] = []
"""Cycles owned by another helper, tolerated until fixed (none today)."""


def module_name(path: Path) -> str:
    parts = ["hiddenstruct", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level(tree: ast.Module):
    """Import statements outside functions: module level, ``try``/``if`` bodies included
    (``if TYPE_CHECKING:`` too: a cycle there is a cycle of the design)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            stack += node.body + node.orelse
        elif isinstance(node, ast.Try):
            stack += node.body + node.orelse + node.finalbody
            for handler in node.handlers:
                stack += handler.body


def import_graph() -> nx.DiGraph:
    """Module → module for every module-level import of a hiddenstruct module."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _top_level(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *filter(None, [base])])
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            graph.add_edges_from((name, t) for t in targets if t in modules and t != name)
    return graph


def test_import_graph_sees_the_package():
    graph = import_graph()
    assert graph.number_of_nodes() > 50
    assert graph.has_edge("hiddenstruct.nn.graphrnn", "hiddenstruct.nn.rnn")


def test_no_import_cycles():
    cycles = [
        sorted(c)
        for c in nx.strongly_connected_components(import_graph())
        if len(c) > 1 and set(c) not in KNOWN_CYCLES
    ]
    assert not cycles, f"import cycles: {cycles}"
