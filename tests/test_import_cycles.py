"""The import graph of hiddenstruct: no cycles, and the layers import one way.

Every import statement counts, the ones inside functions too: a lazy import still makes the
importing module depend on the imported one (``experiments.nas`` importing ``nas_best``
inside a function and ``nas_best`` importing ``nas`` inside another is a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import hiddenstruct

ROOT = Path(hiddenstruct.__file__).parent

# Layers from the command line down to tensors (docs/architecture.md): a module may import
# its own layer and the layers below it, never one above.
LAYERS = ["cli", "experiments", "trials"]


def module_name(path: Path) -> str:
    parts = ["hiddenstruct", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module):
    """Every import statement of a module: top level, ``try``/``if`` bodies (``if
    TYPE_CHECKING:`` too: a cycle there is a cycle of the design) and function bodies."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def import_graph() -> nx.DiGraph:
    """Module → module for every import of a hiddenstruct module by another."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(), str(path))):
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


def _layer(module: str) -> str | None:
    if module == "hiddenstruct.__main__":  # `python -m hiddenstruct`: the command line
        return "cli"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_import_graph_sees_the_package():
    graph = import_graph()
    assert graph.number_of_nodes() > 50
    assert graph.has_edge("hiddenstruct.nn.graphrnn", "hiddenstruct.nn.rnn")
    # an import inside a function is an edge too
    assert graph.has_edge("hiddenstruct.experiments.registry", "hiddenstruct.trials.store")


def test_no_import_cycles():
    cycles = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_layers_import_downwards():
    """cli → experiments → trials: the trial framework knows no experiment and the library
    below them knows neither (nor the CLI)."""
    upward = []
    for source, target in import_graph().edges:
        source_layer, target_layer = _layer(source), _layer(target)
        if target_layer is None or source_layer == target_layer:
            continue
        if source_layer is None or LAYERS.index(source_layer) > LAYERS.index(target_layer):
            upward.append(f"{source} -> {target}")
    assert not upward, "imports against the layers:\n" + "\n".join(sorted(upward))
