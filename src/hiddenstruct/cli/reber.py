"""``hiddenstruct reber``: generate the Reber-grammar dataset as CSV, check strings or CSV files."""

from __future__ import annotations

import argparse
from pathlib import Path

from hiddenstruct.cli.common import fraction, positive_int, seed
from hiddenstruct.data.reber import GRAMMARS, generate_reber_dataset, get_grammar
from hiddenstruct.data.reber_csv import read_reber_csvs
from hiddenstruct.data.reber_negatives import NEGATIVE_PROTOCOLS
from hiddenstruct.data.reber_report import format_summary, summarize
from hiddenstruct.errors import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "reber",
        help="Reber-grammar data: generate the paper's dataset as CSV, check strings",
        description="Reber-grammar data (paper §4.2): a balanced set of in-grammar and "
        "out-of-grammar strings with a stratified train/test split.",
    )
    sub = parser.add_subparsers(dest="reber_command", metavar="SUBCOMMAND", required=True)

    gen = sub.add_parser(
        "generate",
        help="write a CSV with columns string,valid,split",
        description="Write a CSV with columns string,valid,split (valid 1/0, split train/test): "
        "n - n//2 strings are in the grammar, n//2 are not; the split is stratified and exactly sized.",
    )
    gen.add_argument(
        "--n",
        type=positive_int,
        default=25_000,
        help="number of strings (default: 25000, the paper's)",
    )
    gen.add_argument(
        "--seed",
        type=seed,
        default=0,
        help="random seed; the same seed gives the same file (default: 0)",
    )
    gen.add_argument(
        "--output", type=Path, required=True, help="CSV file to write (written atomically)"
    )
    gen.add_argument(
        "--test-fraction",
        type=fraction,
        default=0.25,
        help="share of strings in the test split (default: 0.25)",
    )
    gen.add_argument(
        "--hard-fraction",
        type=fraction,
        default=0.5,
        help="with --negatives mix: share of negatives that are one-symbol corruptions of valid "
        "strings; the rest are random strings B…E (default: 0.5)",
    )
    gen.add_argument(
        "--negatives",
        choices=tuple(NEGATIVE_PROTOCOLS),
        default="mix",
        help="how negatives are made: mix (default, our choice: --hard-fraction edits + random "
        "strings), hard (one-symbol edits only), random (random strings only), authors (the "
        "composition of the authors' published dataset; unique strings) — see docs/data.md",
    )
    gen.add_argument(
        "--grammar",
        choices=tuple(GRAMMARS),
        default="reber",
        help="reber (default) or embedded_reber (long-range dependency)",
    )
    gen.add_argument(
        "--unique",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="every string at most once, so no test string is in train (default; shifts "
        "lengths upwards); --no-unique: i.i.d. draws where short strings repeat (the overlap "
        "is printed)",
    )
    gen.add_argument(
        "--max-length",
        type=positive_int,
        default=None,
        help="longest string allowed (default: none)",
    )
    gen.set_defaults(func=run_generate)

    check = sub.add_parser(
        "check",
        help="say whether strings are in the grammar, or summarize Reber CSV files",
        description="With strings: print each with 1 (in the grammar) or 0; exit 0 when all are "
        "in it, 1 otherwise. With CSV files (one with a split column, or a train and a test "
        "file; columns string and valid): report counts, class balance, lengths, alphabet, "
        "train/test overlap, labels contradicting the grammar and the content checksum; "
        "exit 0 when the files are usable, 2 with a message saying what to fix.",
    )
    check.add_argument(
        "strings",
        nargs="+",
        metavar="STRING|FILE",
        help="strings to test, or 1-2 CSV files (arguments ending in .csv or naming files)",
    )
    check.add_argument(
        "--grammar",
        choices=tuple(GRAMMARS),
        default="reber",
        help="reber (default) or embedded_reber",
    )
    check.set_defaults(func=run_check)


def run_generate(args: argparse.Namespace) -> int:

    dataset = generate_reber_dataset(
        n=args.n,
        seed=args.seed,
        test_fraction=args.test_fraction,
        hard_fraction=args.hard_fraction,
        grammar=args.grammar,
        unique=args.unique,
        max_length=args.max_length,
        negatives=args.negatives,
    )
    path = dataset.to_csv(args.output)
    print(
        f"wrote {path}: {len(dataset)} strings ({dataset.count(label=1)} in the grammar), "
        f"train {dataset.count('train')}, test {dataset.count('test')}; "
        f"{dataset.leakage():.1%} of test strings also occur in train (negatives: {args.negatives})"
    )
    return 0


def _is_file_argument(argument: str) -> bool:
    return argument.lower().endswith(".csv") or Path(argument).is_file()


def run_check(args: argparse.Namespace) -> int:

    files = [_is_file_argument(a) for a in args.strings]
    if any(files):
        if not all(files) or len(files) > 2:
            raise UsageError(
                "give either strings or 1-2 CSV files (one with a split column, or train and test)"
            )
        return _check_files(args.strings, args.grammar)
    grammar = get_grammar(args.grammar)
    results = [grammar.accepts(s) for s in args.strings]
    for string, ok in zip(args.strings, results, strict=True):
        print(f"{string}\t{int(ok)}")
    return 0 if all(results) else 1


def _check_files(paths: list[str], grammar: str) -> int:

    dataset = read_reber_csvs(paths, grammar=None)  # labels are counted below, not rejected
    print(format_summary(summarize(dataset, grammar=grammar)))
    return 0
