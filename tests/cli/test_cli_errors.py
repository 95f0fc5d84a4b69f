"""Since 0.2.0 (docs/reliability.md): a usage error is one line naming the option, the value and the help to
read; no option is abbreviated; every help text renders without a literal ``%%``."""

from __future__ import annotations

import argparse

import pytest

from hiddenstruct.cli.main import build_parser, main
from hiddenstruct.experiments.registry import EXPERIMENTS


def _error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["experiment", "prune-ffn", "--relative-p", "1.5"],
            "error: --relative-p 1.5: must be in (0, 1]",
        ),
        (["experiment", "prune-ffn", "--epochs", "0"], "error: --epochs 0: must be"),
        (["experiment", "prune-rnn", "--modes", "gru"], "error: --modes gru: must be one of"),
        (["experiment", "prune-ffn", "--preset", "paperr"], "(closest: paper)"),
        (["experiment", "prune-ffn", "--workers", "0"], "--workers 0: must be a positive integer"),
        (["experiment", "prune-ffn", "--relative-p", "nan"], "--relative-p nan: must be a finite"),
        (["experiment", "prune-ffn", "--seed", "99999999999999999999"], "--seed 9999"),
        (["demo", "--seed", "-1"], "--seed -1: must be an integer in [0, 2**32 - 1]"),
        (["predict", "x.csv", "--seed", "1e400"], "--seed 1e400: must be an integer"),
    ],
)
def test_a_bad_value_is_one_line_naming_option_value_and_help(capsys, argv, expected):
    err = _error(capsys, argv)
    assert expected in err
    assert err.count("\n") == 1 and "usage:" not in err
    command = " ".join(a for a in argv[:2] if not a.startswith("-") and "." not in a)
    assert f"see `hiddenstruct {command} --help`" in err


def test_an_unknown_option_names_its_subcommand_and_the_closest_option(capsys):
    err = _error(capsys, ["experiment", "prune-ffn", "--meth", "obd"])
    assert err.startswith("hiddenstruct experiment prune-ffn: error: unknown option --meth")
    assert "(closest: --methods)" in err and err.count("\n") == 1
    err = _error(capsys, ["results", "list", "--stor", "x.sqlite"])
    assert err.startswith("hiddenstruct results list: error: unknown option --stor")
    assert "(closest: --store)" in err


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


def test_every_help_renders_without_a_literal_double_percent_and_no_abbreviations():
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 20  # every command and sub-command
    for parser in parsers:
        text = parser.format_help()
        assert "%%" not in text, parser.prog
        assert parser.allow_abbrev is False, parser.prog
    rnn = next(p for p in parsers if p.prog.endswith("prune-rnn"))
    assert "100 %" in rnn.format_help()
    # the texts are kept as shown; only the CLI escapes them for argparse
    assert not [e.name for e in EXPERIMENTS.values() if "%%" in e.help + e.description]
    assert "95 % removed" in EXPERIMENTS["prune-ffn"].help
