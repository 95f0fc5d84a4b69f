"""``hiddenstruct report``: a self-contained HTML page of an output folder's figures and tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from hiddenstruct.cli.paths import check_output_file


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of figures and tables",
        description="Scan an output folder (one section per experiment sub-folder), embed its PNG "
        "figures and CSV tables in one HTML file that needs nothing else to display.",
    )
    parser.add_argument(
        "--input",
        type=Path,
        default=Path("demo-output"),
        help="folder to scan (default: demo-output)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("report.html"),
        help="HTML file to write (default: report.html)",
    )
    parser.add_argument("--title", default=None, help="page title (default: from the folder name)")
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="also summarise the trials of this SQLite store (counts per experiment and status)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hiddenstruct.errors import HiddenstructError
    from hiddenstruct.experiments.report import write_report

    check_output_file(args.output, (".html", ".htm"))
    summary = None
    if args.store is not None:
        from hiddenstruct.experiments.store import TrialStore

        if not args.store.is_file():
            raise HiddenstructError(
                f"no trial store at {args.store}; drop --store or pass an existing file"
            )
        frame = TrialStore(args.store).to_dataframe()
        if len(frame):
            counts = frame.groupby(["experiment", "status"]).size().unstack(fill_value=0)
            summary = counts.rename_axis(columns=None).reset_index()
    path = write_report(args.input, args.output, args.title, store_summary=summary)
    print(f"report written to {path}")
    return 0
