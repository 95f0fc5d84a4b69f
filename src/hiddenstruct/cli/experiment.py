"""``hiddenstruct experiment <name>``: one sub-command per registered paper experiment.

Every option of ``experiment NAME`` is generated from the experiment's config dataclass
(:mod:`hiddenstruct.trials.config`): ``--kebab-case`` name, type, choices, help with the
default and the paper preset's value, ``nargs`` for tuples, hidden aliases for old names. Then
``--preset``, ``--config FILE.toml``, ``--print-config`` and the run options (``--output``,
``--store``, ``--workers``, ``--executor``, ``--ray-address``) are added.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hiddenstruct.cli.common import add_experiment_run_arguments
from hiddenstruct.cli.parser import value_error
from hiddenstruct.experiments.base import Experiment
from hiddenstruct.trials.config import (
    element_problem,
    field_specs,
    load_toml,
    parse_element,
    resolve_config,
    to_toml,
)
from hiddenstruct.trials.executors import make_executor


def register(subparsers) -> None:
    """Add ``experiment`` with one sub-command per registered experiment."""
    from hiddenstruct.experiments.registry import EXPERIMENTS

    parser = subparsers.add_parser(
        "experiment",
        help="run one experiment of the paper (trials stored, figures written)",
        description="Run one experiment of the paper. Trials are stored in the SQLite store "
        "(--store) and skipped when already done; see `hiddenstruct experiment NAME --help`.",
    )
    experiments = parser.add_subparsers(dest="experiment_name", metavar="NAME")
    for experiment in EXPERIMENTS.values():
        add_experiment_parser(experiments, experiment)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return " ".join("-".join(map(str, v)) if isinstance(v, tuple) else _shown(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _help_text(text: str) -> str:
    """A help string as argparse wants it: every ``%`` doubled (argparse %-formats help
    strings; the texts themselves are kept as shown)."""
    return text.replace("%", "%%")


def _cli_type(spec):
    """argparse ``type``: parse one string and check it against the field's choices / range."""

    def convert(text: str) -> Any:
        try:
            value = parse_element(spec, text)
        except (ValueError, argparse.ArgumentTypeError) as err:
            raise value_error(text, str(err).lstrip("\x00")) from None
        elements = (
            value if spec.metadata.get("nargs") is None and isinstance(value, tuple) else (value,)
        )
        for element in elements:
            problem = None if element is None or spec.nested else element_problem(spec, element)
            if problem is not None:
                reason = problem.split("; ", 1)[-1]  # "got X; must be ..." -> "must be ..."
                if reason.startswith("valid: "):
                    reason = "must be one of " + reason[len("valid: ") :]
                raise value_error(text, reason)
        return value

    convert.__name__ = spec.scalar.__name__ if isinstance(spec.scalar, type) else "value"
    return convert


def add_config_options(parser: argparse.ArgumentParser, config_cls: type, presets: dict) -> None:
    """One option per config field (absent when not given), plus hidden old-name aliases."""

    paper = presets.get("paper", {})  # values as given (not validated: that would import torch)
    for spec in field_specs(config_cls):
        meta = spec.metadata
        nargs = meta.get("nargs", "auto")
        nargs = ("+" if spec.is_tuple else None) if nargs == "auto" else nargs
        shown = meta.get("show") or _shown
        text = f"{meta.get('help', '')} (default: {shown(spec.default)}"
        if spec.name in paper and paper[spec.name] != spec.default:
            text += f"; --preset paper: {shown(paper[spec.name])}"
        # not given -> no attribute at all, so an explicit `none` can be told from absence
        options = dict(dest=spec.name, type=_cli_type(spec), default=argparse.SUPPRESS, nargs=nargs)
        if spec.scalar is bool and not meta.get("metavar"):
            options["metavar"] = "{true,false}"
        elif meta.get("metavar"):
            options["metavar"] = meta["metavar"]
        elif meta.get("choices"):
            options["metavar"] = "{" + ",".join(map(str, meta["choices"])) + "}"
        parser.add_argument(spec.option, help=_help_text(text + ")"), **options)
        for alias in meta.get("aliases", ()):
            parser.add_argument(alias, help=argparse.SUPPRESS, **options)


def add_experiment_parser(subparsers, experiment: Experiment) -> argparse.ArgumentParser:
    """The ``experiment NAME`` parser of an experiment, generated from its config."""
    parser = subparsers.add_parser(
        experiment.name,
        help=_help_text(experiment.help),
        description=experiment.description,  # not %-formatted by argparse: shown as written
    )
    add_config_options(parser, experiment.config_type, experiment.presets)
    parser.add_argument(
        "--preset",
        choices=tuple(experiment.presets),
        default=None,
        help="named base settings; options and --config override them (default: small)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE.toml",
        help="TOML file of settings (keys as the options, e.g. relative_p = 0.3); "
        "explicit options override it, it overrides the preset",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the fully resolved settings as TOML and exit (feed back with --config)",
    )
    add_experiment_run_arguments(parser, experiment.name)
    parser.set_defaults(func=run, experiment_name=experiment.name)
    return parser


def resolve_from_args(experiment: Experiment, args: argparse.Namespace) -> Any:
    """Defaults < preset < --config file < explicit options."""

    from_file = load_toml(args.config) if args.config is not None else {}
    preset = args.preset or str(from_file.pop("preset", "small"))
    from_file.pop("preset", None)
    explicit = {}
    for spec in field_specs(experiment.config_type):
        if not hasattr(args, spec.name):
            continue
        value = getattr(args, spec.name)
        if isinstance(value, list):
            value = tuple(value)
        explicit[spec.name] = value
    if explicit.get("data_dir"):
        explicit["data_dir"] = str(Path(explicit["data_dir"]).resolve())
    return resolve_config(experiment.config_type, experiment.presets, preset, from_file, explicit)


def run(args: argparse.Namespace) -> int:
    """Resolve the config; print it (``--print-config``) or run the experiment and list outputs."""
    from rich.console import Console

    from hiddenstruct.experiments.registry import get_experiment, run_experiment

    experiment = get_experiment(args.experiment_name)
    config = resolve_from_args(experiment, args)
    name = experiment.name
    if args.print_config:
        print(to_toml(config, f"hiddenstruct experiment {name} --config FILE"), end="")
        return 0
    executor = make_executor(
        args.executor, args.workers, args.ray_address, args.max_attempts, args.ray_timeout
    )
    # run_experiment checks, in order, before it creates the store or any output: the device,
    # the store path, the input files, the Ray connection, the data and output folder
    written = run_experiment(name, config, args.store, args.output, executor)
    console = Console()
    for label, value in written.items():
        console.print(f"{label}: {value}")
    if "failed" in written:  # some trials failed: outputs from the others, but exit 1
        Console(stderr=True).print(f"[red]{name}: trials failed: {written['failed']}[/red]")
        return 1
    return 0
