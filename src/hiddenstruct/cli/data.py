"""``hiddenstruct data``: check what a data directory holds; download MNIST / CIFAR-10."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hiddenstruct.cli.common import fraction
from hiddenstruct.data.download import download
from hiddenstruct.errors import DataError

FILE_DATASETS = ("mnist", "cifar10")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data",
        help="image datasets: check a data directory, download MNIST / CIFAR-10",
        description="Image datasets read from a data directory (MNIST IDX files, CIFAR-10 python "
        "batches) and the embedded digits.",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    check = sub.add_parser(
        "check",
        help="report dataset, split, count and shape of what is found; exit 1 when nothing is usable",
        description="Load every split of MNIST and CIFAR-10 found in DIR (or a subfolder such as "
        "DIR/mnist, DIR/cifar10/cifar-10-batches-py) and report dataset, split, count and shape. "
        "Exit 0 when at least one split loads, 1 otherwise.",
    )
    check.add_argument(
        "--data-dir", type=Path, required=True, help="folder holding the datasets (or a parent)"
    )
    check.add_argument(
        "--dataset",
        action="append",
        choices=(*FILE_DATASETS, "digits"),
        default=None,
        help="check only this dataset (repeatable; default: mnist and cifar10)",
    )
    check.add_argument(
        "--val-fraction",
        type=fraction,
        default=0.1,
        help="share of training data held out as split 'val' (default: 0.1)",
    )
    check.add_argument(
        "--json", action="store_true", help="print the report as JSON instead of a table"
    )
    check.set_defaults(func=run_check)

    download = sub.add_parser(
        "download",
        help="download MNIST or CIFAR-10 into DIR (needs internet)",
        description="Download a dataset into DIR/mnist or DIR/cifar10 with MD5 checks; files are "
        "written atomically, so an offline or interrupted run leaves nothing half-written.",
    )
    download.add_argument(
        "--dataset", required=True, choices=FILE_DATASETS, help="dataset to fetch"
    )
    download.add_argument(
        "--data-dir", type=Path, required=True, help="folder to download into (created)"
    )
    download.add_argument("--mirror", default=None, help="base URL replacing the official server")
    download.add_argument(
        "--no-verify", action="store_true", help="skip the MD5 check (for custom mirrors)"
    )
    download.add_argument(
        "--timeout", type=float, default=60.0, help="network timeout in seconds (default: 60)"
    )
    download.set_defaults(func=run_download)


def _table(statuses) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="datasets")
    for column in ("dataset", "split", "status", "count", "shape", "classes"):
        table.add_column(column)
    for s in statuses:
        shape = "×".join(map(str, s.shape)) if s.ok else ""
        table.add_row(
            s.dataset, s.split, "ok" if s.ok else "unusable", str(s.count), shape, str(s.classes)
        )
    console = Console()
    console.print(table)
    problems: dict[tuple[str, str], list[str]] = {}
    for s in statuses:
        if not s.ok:
            problems.setdefault((s.dataset, s.message), []).append(s.split)
    for (dataset, message), splits in problems.items():
        console.print(f"{dataset} ({', '.join(splits)}): {message}", markup=False, highlight=False)


def run_check(args: argparse.Namespace) -> int:
    from hiddenstruct.data.check import check_data_dir

    datasets = tuple(dict.fromkeys(args.dataset or FILE_DATASETS))
    statuses = check_data_dir(args.data_dir, datasets, val_fraction=args.val_fraction)
    if args.json:
        print(json.dumps([s.as_dict() for s in statuses], indent=2))
    else:
        _table(statuses)
    if not any(s.ok for s in statuses):
        raise DataError(
            f"no usable dataset in {args.data_dir} (see `hiddenstruct data download --help`)"
        )
    return 0


def run_download(args: argparse.Namespace) -> int:

    folder = download(
        args.dataset,
        args.data_dir,
        base_url=args.mirror,
        verify=not args.no_verify,
        timeout=args.timeout,
    )
    print(f"{args.dataset} is in {folder}")
    return 0
