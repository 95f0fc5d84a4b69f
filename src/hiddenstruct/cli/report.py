"""``hiddenstruct report``: a self-contained HTML page of an output folder's figures and tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hiddenstruct.cli.paths import check_output_file
from hiddenstruct.errors import HiddenstructError
from hiddenstruct.trials.store import TrialStore


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of figures and tables",
        description="Write one self-contained HTML page of an output folder in the paper's order "
        "(§4.1 prune-ffn, §4.2 prune-rnn, §4.3 priors-rnn, §4.4 nas, then other folders): a table "
        "of contents, per experiment the paper's claims next to this run's key numbers, figures at "
        "full width, tables cut to their first rows with links to the full CSVs, and the resolved "
        "config, seeds and versions (configs need --store).",
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
        help="SQLite trial store: per section the resolved config and seeds of its trials, and "
        "the trial counts per experiment and status",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hiddenstruct.experiments.report import scan_inputs, write_report

    check_output_file(args.output, (".html", ".htm"))
    summary = store = None
    if args.store is not None:
        if not args.store.is_file() and not args.store.is_symlink():
            raise HiddenstructError(
                f"no trial store at {args.store}; drop --store or pass an existing file"
            )
        store = TrialStore.for_reading(args.store)  # read-only where it cannot be written
        frame = store.to_dataframe()
        if len(frame):
            counts = frame.groupby(["experiment", "status"]).size().unstack(fill_value=0)
            summary = counts.rename_axis(columns=None).reset_index()
    path = write_report(args.input, args.output, args.title, store_summary=summary, store=store)
    print(f"report written to {path}")
    _, skipped = scan_inputs(args.input)
    if skipped:
        shown = ", ".join(str(p.relative_to(args.input)) for p in skipped[:10])
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        print(
            f"report: skipped {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} in "
            f"{args.input} that are not regular files inside it (symbolic links are never "
            f"followed): {shown}{more}",
            file=sys.stderr,
        )
    return 0
