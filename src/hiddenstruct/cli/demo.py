"""``hiddenstruct demo``: the main job at toy scale on embedded data."""

from __future__ import annotations

import argparse
from pathlib import Path

from hiddenstruct.cli.common import add_store_argument, positive_int, seed
from hiddenstruct.errors import check_choice


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run every experiment at toy scale on embedded data (a few minutes on a laptop CPU)",
        description="Run every experiment of the paper at toy scale on embedded data, store the "
        "trials and write figures; prints where the results and figures are.",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("demo-output"),
        help="folder for figures and tables (default: demo-output)",
    )
    add_store_argument(parser)
    parser.add_argument("--seed", type=seed, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch CPU threads per trial, as every experiment's --threads (default: 1, the "
        "fastest for these small models on a shared machine; not 1: separate trials)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="STEP",
        help="run only this step (repeatable)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hiddenstruct.experiments.demo import DEMO_STEPS, run_demo

    titles = [title for title, _ in DEMO_STEPS]
    for name in args.only or []:
        check_choice(name, titles, "demo step")
    console = Console()
    produced = run_demo(
        args.output, args.store, seed=args.seed, only=args.only, console=console,
        threads=args.threads,
    )  # fmt: skip
    total = produced.pop("_total")
    console.rule("[bold]demo results")
    for title, outputs in produced.items():
        console.print(f"[bold]{title}[/bold]")
        for label, value in outputs.items():
            console.print(f"  {label}: {value}")
    console.print(f"trial store: {args.store}")
    console.print(f"figures and tables: {args.output}/")
    console.print(f"total time: {total['seconds']} s")
    return 0
