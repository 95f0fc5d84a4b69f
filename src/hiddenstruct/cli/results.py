"""``hiddenstruct results``: list, show, export the trials in the store and list artifacts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hiddenstruct.cli import results_view as view
from hiddenstruct.cli.common import add_store_argument, positive_int
from hiddenstruct.cli.paths import check_output_file
from hiddenstruct.cli.results_view import describe_trial
from hiddenstruct.errors import HiddenstructError, UsageError
from hiddenstruct.trials.artifacts import resolve_artifact
from hiddenstruct.trials.export import export_trials
from hiddenstruct.trials.store import TrialStore
from hiddenstruct.trials.store_checks import check_store, recover_store

STATUSES = ("pending", "running", "done", "failed")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "results",
        help="list, show and export stored trials",
        description="Inspect the SQLite trial store: list trials, show one, export to CSV/Parquet.",
    )
    sub = parser.add_subparsers(dest="results_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: _usage(parser))

    listing = _store_command(
        sub,
        "list",
        "table of trials",
        "Print one table per experiment with the columns that tell its trials apart "
        "(prune-ffn: architecture, method, schedule, retrain, seed; priors-rnn: family, mode, "
        "graph, n; …) and its key metric. Internal bookkeeping experiments (priors-rnn-pack, "
        "demo-reber-rnn) are hidden unless --all.",
    )
    listing.add_argument("--experiment", help="only trials of this experiment")
    listing.add_argument("--status", choices=STATUSES, help="only trials with this status")
    listing.add_argument(
        "--where",
        action="append",
        metavar="KEY=VALUE",
        help="only trials whose config has KEY=VALUE (repeatable; lists as 300,100 or 300-100)",
    )
    listing.add_argument(
        "--all", action="store_true", help="also list internal experiments (priors-rnn-pack, …)"
    )
    listing.add_argument(
        "--limit", type=positive_int, default=None, help="show at most N trials (newest)"
    )
    listing.set_defaults(func=run_list)

    show = _store_command(
        sub,
        "show",
        "one trial in full",
        "Print one trial's config, result summary, error, metrics and artifacts.",
    )
    show.add_argument(
        "hash", help="trial hash or a unique prefix of it (as printed by `results list`)"
    )
    show.add_argument(
        "--json", action="store_true", help="print the full record as JSON (the 0.1.0 output)"
    )
    show.set_defaults(func=run_show)

    listed = _store_command(
        sub,
        "artifacts",
        "a trial's saved files (models, masks)",
        "List a trial's artifacts (saved under <store folder>/artifacts/<hash>/): "
        "name, path, size, and whether the file is there. Load them in Python with "
        "hiddenstruct.trials.artifacts.load_artifact (torch.load with weights_only=True).",
    )
    listed.add_argument("hash", help="trial hash or a unique prefix of it")
    listed.set_defaults(func=run_artifacts)

    export = _store_command(
        sub,
        "export",
        "write trials to CSV or Parquet",
        "Write one row per trial (config.* and result.* flattened) to a file, atomically.",
    )
    export.add_argument(
        "--output", type=Path, required=True, help="file to write (e.g. trials.csv)"
    )
    export.add_argument(
        "--format", choices=("csv", "parquet"), default=None, help="default: from --output's suffix"
    )
    export.add_argument("--experiment", help="only trials of this experiment")
    export.add_argument(
        "--metrics", action="store_true", help="export the per-step metrics table instead"
    )
    export.set_defaults(func=run_export)
    register_repair(sub)


def register_repair(sub) -> None:
    """``results check`` and ``results recover``."""
    check = _store_command(
        sub,
        "check",
        "check a trial store for damage",
        "Run SQLite's full integrity check on the store (read-only) and print the "
        "row counts; exit 1 when it is damaged or not a hiddenstruct store.",
    )
    check.set_defaults(func=run_check)
    recover = _store_command(
        sub,
        "recover",
        "copy what is readable from a damaged store into a new one",
        "Copy every readable trial, metric and artifact row of --store into a new "
        "store --output (the damaged file is only read). Trials left 'running' become "
        "'pending'. Then use the new file with --store.",
    )
    recover.add_argument(
        "--output",
        type=Path,
        required=True,
        help="new store file to create (must not exist)",
    )
    recover.set_defaults(func=run_recover)


def _store_command(sub, name: str, help: str, description: str) -> argparse.ArgumentParser:
    """A sub-command of ``results`` that reads a trial store (``--store``)."""
    parser = sub.add_parser(name, help=help, description=description)
    add_store_argument(parser)
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _open_existing(path: Path):
    """The store for a command that only reads it (read-only where it cannot be written)."""

    return TrialStore.for_reading(path)


def _check_experiment(store, name: str | None) -> None:

    if name is not None and name not in (known := store.experiments()):
        raise UsageError(f"no trials of experiment {name!r} in {store.path}; stored: {known}")


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""


def run_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    store = _open_existing(args.store)
    _check_experiment(store, args.experiment)
    trials = store.trials(args.experiment, args.status)
    hidden = 0
    if not args.all and args.experiment is None:
        hidden = sum(t.experiment in view.INTERNAL for t in trials)
        trials = [t for t in trials if t.experiment not in view.INTERNAL]
    trials = view.apply_where(trials, view.parse_where(args.where))
    if args.limit:
        trials = trials[-args.limit :]
    console = Console(width=160)
    note = f" ({hidden} internal hidden; --all shows them)" if hidden else ""
    console.print(f"{len(trials)} trials in {args.store}{note}")
    for experiment in dict.fromkeys(t.experiment for t in trials):
        members = [t for t in trials if t.experiment == experiment]
        columns = view.view_for(experiment, members)
        table = Table(title=f"{experiment}: {len(members)} trials", title_justify="left")
        for column in ("hash", "status", *columns, "seconds", "started (UTC)"):
            table.add_column(column, overflow="fold")
        for t in members:
            cells = [view.format_value(get(t)) for get in columns.values()]
            if t.status == "failed":
                cells = cells[:-1] + [_last_line(t.error)[:60]] if cells else cells
            seconds = f"{t.seconds:.1f}" if t.seconds is not None else ""
            table.add_row(t.hash[:12], t.status, *cells, seconds, view.started_text(t))
        console.print(table)
    return 0


def _one_trial(store, prefix: str):

    matches = [t for t in store.trials() if t.hash.startswith(prefix.lower())]
    if len(matches) != 1:
        found = "no trial" if not matches else f"{len(matches)} trials"
        raise UsageError(
            f"{found} with hash prefix {prefix!r}; give more characters (see `results list`)"
        )
    return matches[0]


def run_artifacts(args: argparse.Namespace) -> int:

    store = _open_existing(args.store)
    t = _one_trial(store, args.hash)
    found = store.artifacts(t.hash)
    print(f"trial {t.hash} — {t.experiment}, {t.status}: {len(found) or 'no'} artifacts")
    for name, path in sorted(found.items()):
        try:  # only paths inside <store folder>/artifacts/, as the loader
            full = resolve_artifact(args.store, path)
        except HiddenstructError as err:
            print(f"  {name}: REFUSED ({err})")
            continue
        size = f"{full.stat().st_size:,} bytes" if full.is_file() else "MISSING"
        print(f"  {name}: {full} ({size})")
    return 0


def run_show(args: argparse.Namespace) -> int:

    store = _open_existing(args.store)
    t = _one_trial(store, args.hash)
    metrics, artifacts = store.metrics(t.hash), store.artifacts(t.hash)
    if not args.json:
        print(describe_trial(t, metrics, artifacts))
        return 0
    print(
        json.dumps(
            {
                "hash": t.hash,
                "experiment": t.experiment,
                "status": t.status,
                "attempts": t.attempts,
                "seconds": t.seconds,
                "config": t.config,
                "result": t.result,
                "error": t.error,
                "artifacts": artifacts,
                "metrics": len(metrics),
            },
            indent=2,
        )
    )
    return 0


def run_export(args: argparse.Namespace) -> int:

    check_output_file(args.output)
    store = _open_existing(args.store)
    _check_experiment(store, args.experiment)
    rows = export_trials(store, args.output, args.format, args.experiment, args.metrics)
    print(f"wrote {rows} rows to {args.output}")
    return 0


def run_check(args: argparse.Namespace) -> int:

    report = check_store(args.store)
    counts = ", ".join(f"{n} {table}" for table, n in report.counts.items())
    written_by = ", ".join(report.writers) or "a version before 0.2.0"
    if report.ok:
        print(f"{args.store}: ok ({counts}); written by hiddenstruct {written_by}")
        return 0
    print(f"{args.store}: DAMAGED ({counts or 'no table readable'})")
    for problem in report.problems:
        print(f"  {problem}")
    print(
        f"copy out what is readable: hiddenstruct results recover --store {args.store} "
        "--output NEW.sqlite"
    )
    return 1


def run_recover(args: argparse.Namespace) -> int:

    check_output_file(args.output)
    counts = recover_store(args.store, args.output, TrialStore)
    lost = sum(v for k, v in counts.items() if k.endswith("_unreadable"))
    kept = ", ".join(f"{counts[t]} {t}" for t in ("trials", "metrics", "artifacts") if t in counts)
    print(f"recovered {kept} into {args.output}" + (f"; {lost} rows unreadable" if lost else ""))
    return 0
