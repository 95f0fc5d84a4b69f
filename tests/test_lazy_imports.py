"""Imports sit at module top unless deferring one buys something (docs/architecture.md, "Lazy
imports"): the command line builds every parser without torch or pandas, and an import inside a
function must bring a heavy library its module does not load anyway, be an optional extra, or
break an import cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import hiddenstruct

ROOT = Path(hiddenstruct.__file__).parent
#: libraries whose import costs start-up time worth deferring (rich.console: 60 ms, the others
#: 0.1-1 s, measured with ``python -X importtime``)
HEAVY = {"torch", "pandas", "matplotlib", "sklearn", "scipy", "igraph", "ray", "pyarrow", "rich"}
#: optional extras: imported where used, so the core install works without them
OPTIONAL = {"pyarrow", "ray", "torch_pruning"}


def _module_name(path: Path) -> str:
    parts = ["hiddenstruct", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _lazy_tables() -> dict[str, dict[str, str]]:
    """Package → {name: module} of the packages exporting through ``lazy_exports``."""
    tables = {}
    for name, path in MODULES.items():
        if path.name != "__init__.py":
            continue
        for call in ast.walk(ast.parse(path.read_text())):
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "lazy_exports":
                table = ast.literal_eval(call.args[2])
                tables[name] = {
                    n: m if m.startswith("hiddenstruct.") else f"{name}.{m}"
                    for m, names in table.items()
                    for n in names
                }
    return tables


LAZY = _lazy_tables()


def _targets(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    base = node.module or ""
    if node.level:
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*anchor, *filter(None, [base])])
    out = []
    for alias in node.names:
        if f"{base}.{alias.name}" in MODULES:
            out.append(f"{base}.{alias.name}")
        elif alias.name in LAZY.get(base, {}):
            out.append(LAZY[base][alias.name])
        else:
            out.append(base)
    return out


@cache
def _imports(module: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(targets imported when the module loads, [(line, targets) of each deferred import])."""
    tree = ast.parse(MODULES[module].read_text())
    deferred_nodes, typing_only = set(), set()
    for node in ast.walk(tree):
        inner = {id(n) for n in ast.walk(node) if n is not node}
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            deferred_nodes |= inner
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= inner  # never executed: neither loaded nor deferred
    top, deferred = [], []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        targets = _targets(node, module)
        if id(node) in deferred_nodes:
            deferred.append((node.lineno, targets))
        else:
            top.extend(targets)
    return top, deferred


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts)) if ".".join(parts[:i]) in MODULES]


@cache
def _loads(module: str) -> frozenset[str]:
    """Every hiddenstruct module and third-party root loaded by importing ``module``."""
    seen: set[str] = set()
    stack = [module]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in MODULES:
            stack.extend(_imports(current)[0])
            stack.extend(_parents(current))
    return frozenset(m if m in MODULES else m.split(".")[0] for m in seen)


def test_deferred_imports_buy_something():
    needless = []
    for module, path in MODULES.items():
        own = _loads(module)
        for line, targets in _imports(module)[1]:
            roots = {t.split(".")[0] for t in targets}
            if roots & OPTIONAL:
                continue
            brings = set().union(*(_loads(t) for t in targets)) & HEAVY
            if brings - own:
                continue  # defers a heavy library the module does not load at import
            if any(module in _loads(t) for t in targets):
                continue  # at the top it would be an import cycle
            needless.append(f"{path.relative_to(ROOT.parent)}:{line}: {', '.join(targets)}")
    assert not needless, "imports that could be at module top:\n" + "\n".join(sorted(needless))


def test_the_analysis_sees_deferral():
    """The rule's inputs: a module's loads follow its top-level imports only."""
    assert "torch" in _loads("hiddenstruct.nn.masking")
    assert "torch" not in _loads("hiddenstruct.experiments.registry")
    assert "torch" in _loads("hiddenstruct.experiments.prune_rnn.trial")
    deferred = [targets for _, targets in _imports("hiddenstruct.experiments.nas.experiment")[1]]
    assert ["hiddenstruct.experiments.nas.sweep"] in deferred  # the searches load torch
    assert "torch" in _loads("hiddenstruct.experiments.nas.sweep")


def test_command_line_builds_its_parsers_without_torch_or_pandas():
    code = (
        "import sys; from hiddenstruct.cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'pandas', 'sklearn', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
