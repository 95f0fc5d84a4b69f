"""``hiddenstruct reber``: generate the Reber-grammar dataset as CSV, or test strings."""

from __future__ import annotations

import argparse
from pathlib import Path

from hiddenstruct.cli.common import fraction, positive_int
from hiddenstruct.data.reber import GRAMMARS


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
        type=int,
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
        help="share of negatives that are one-symbol corruptions of valid strings; the rest are "
        "random strings B…E (default: 0.5)",
    )
    gen.add_argument(
        "--grammar",
        choices=tuple(GRAMMARS),
        default="reber",
        help="reber (default) or embedded_reber (long-range dependency)",
    )
    gen.add_argument(
        "--unique",
        action="store_true",
        help="every string at most once (no train/test leakage; shifts lengths upwards); default: i.i.d. draws",
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
        help="say for each string whether it is in the grammar",
        description="Print each string with 1 (in the grammar) or 0; exit 0 when all are in it, 1 otherwise.",
    )
    check.add_argument("strings", nargs="+", metavar="STRING")
    check.add_argument(
        "--grammar",
        choices=tuple(GRAMMARS),
        default="reber",
        help="reber (default) or embedded_reber",
    )
    check.set_defaults(func=run_check)


def run_generate(args: argparse.Namespace) -> int:
    from hiddenstruct.data.reber import generate_reber_dataset

    dataset = generate_reber_dataset(
        n=args.n,
        seed=args.seed,
        test_fraction=args.test_fraction,
        hard_fraction=args.hard_fraction,
        grammar=args.grammar,
        unique=args.unique,
        max_length=args.max_length,
    )
    path = dataset.to_csv(args.output)
    print(
        f"wrote {path}: {len(dataset)} strings ({dataset.count(label=1)} in the grammar), "
        f"train {dataset.count('train')}, test {dataset.count('test')}; "
        f"{dataset.leakage():.1%} of test strings also occur in train"
    )
    return 0


def run_check(args: argparse.Namespace) -> int:
    from hiddenstruct.data.reber import get_grammar

    grammar = get_grammar(args.grammar)
    results = [grammar.accepts(s) for s in args.strings]
    for string, ok in zip(args.strings, results, strict=True):
        print(f"{string}\t{int(ok)}")
    return 0 if all(results) else 1
