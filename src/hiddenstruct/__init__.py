"""hiddenstruct: the structure of sparse neural networks.

Masked and graph-built models, pruning, random structural priors, structural
performance prediction and a genetic architecture search, as a library and a CLI.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hiddenstruct")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
