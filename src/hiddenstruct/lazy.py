"""Lazy package exports (PEP 562), the one style shared by the packages whose ``__init__``
would otherwise import torch, pandas or scikit-learn just to name their public functions
(``hiddenstruct.data``, ``.graphs``, ``.predict``, ``.sparse_training``, ``.training``): the
command line builds its parsers from light submodules and starts without them."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def lazy_exports(
    package: str,
    namespace: dict[str, Any],
    modules: dict[str, Iterable[str]],
    submodules: Iterable[str] = (),
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` of ``package``.

    ``modules`` maps a submodule (or, for a name re-exported from elsewhere, an absolute
    ``hiddenstruct.…`` module) to the public names it holds; the first access to a name
    imports that module and caches the value in the package's ``namespace`` (its
    ``globals()``). ``submodules``: submodules reachable as attributes without an import.
    """
    exports = {name: module for module, names in modules.items() for name in names}
    if len(exports) != sum(len(tuple(names)) for names in modules.values()):
        raise ValueError(f"{package}: a name is exported from two modules")
    reachable = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in reachable:
            return importlib.import_module(f"{package}.{name}")
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = exports[name]
        module = module if module.startswith("hiddenstruct.") else f"{package}.{module}"
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports, *reachable})

    return sorted({*exports, *reachable}), __getattr__, __dir__
