"""User Reber CSVs: one file with a split column or train + test files; errors; checksum; `reber check`."""

from __future__ import annotations

import pytest

from hiddenstruct.cli.main import main
from hiddenstruct.data.reber import generate_reber_dataset, read_reber_csv, read_reber_csvs
from hiddenstruct.data.reber_csv import ReberCsvError
from hiddenstruct.data.reber_report import summarize
from hiddenstruct.errors import DataError, UsageError

TRAIN = ",string,valid\n0,BTXSE,1\n1,BTTE,0\n2,BPVVE,True\n3,BPXE,false\n"
TEST = ",string,valid\n0,BTSXSE,1\n1,BTSSE,0\n"


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_train_and_test_files_with_pandas_index_and_bool_labels(tmp_path) -> None:
    ds = read_reber_csvs([_write(tmp_path, "tr.csv", TRAIN), _write(tmp_path, "te.csv", TEST)])
    assert ds.strings == ("BTXSE", "BTTE", "BPVVE", "BPXE", "BTSXSE", "BTSSE")
    assert ds.labels == (1, 0, 1, 0, 1, 0)
    assert ds.splits == ("train",) * 4 + ("test",) * 2
    assert ds.kinds == ("positive", "negative") * 3


def test_one_file_and_two_files_have_the_same_checksum(tmp_path) -> None:
    generated = generate_reber_dataset(n=80, seed=3)
    one = generated.to_csv(tmp_path / "all.csv")
    lines = one.read_text().splitlines()
    train = ["string,valid"] + [
        line.rsplit(",", 1)[0] for line in lines[1:] if line.endswith(",train")
    ]
    test = ["string,valid"] + [
        line.rsplit(",", 1)[0] for line in lines[1:] if line.endswith(",test")
    ]
    two = read_reber_csvs(
        [
            _write(tmp_path, "a.csv", "\n".join(train) + "\n"),
            _write(tmp_path, "b.csv", "\n".join(test) + "\n"),
        ]
    )
    assert read_reber_csv(one).checksum() == two.checksum() == generated.checksum()
    assert generated.checksum().startswith("sha256:") and len(generated.checksum()) == 71
    flipped = generate_reber_dataset(n=80, seed=4)
    assert flipped.checksum() != generated.checksum()


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ("text,valid\nBTXSE,1\n", "missing column.*string"),
        ("string,label\nBTXSE,1\n", "missing column.*valid"),
        ("string,valid\nBTXSE,2\nBTTE,0\n", r"row 2, column valid: '2' is not a binary label"),
        ("string,valid\nBTXSE,1\nBTTé,0\n", "row 3, column string.*ASCII"),
        ("string,valid\nBTXSE,1\n,0\n", "row 3, column string: empty string"),
        ("string,valid\nBTXSE,1\nBPVVE,1\n", "train split has only one class"),
        ("string,valid\n", "train split is empty"),
        ("string,valid\nBTXSE,1\nBTXSE,0,extra\n", "row 3: expected 2 fields"),
        (
            "string,valid,split\nBTXSE,1,test\nBTTE,0,train\n",
            "row 2, column split: 'test'; expected train",
        ),
        ("", "the file is empty"),
        (
            "string,valid\nBTXSE,0\nBTTE,0\n",
            r"row 2: 'BTXSE' is labelled 0 but the reber grammar says 1",
        ),
    ],
)
def test_errors_name_file_row_and_column(tmp_path, train, message) -> None:
    paths = [_write(tmp_path, "tr.csv", train), _write(tmp_path, "te.csv", TEST)]
    with pytest.raises(ReberCsvError, match=message) as info:
        read_reber_csvs(paths)
    assert "tr.csv" in str(info.value)
    assert isinstance(info.value, UsageError) and isinstance(info.value, DataError)


def test_one_file_needs_a_split_column_and_valid_split_names(tmp_path) -> None:
    with pytest.raises(ReberCsvError, match="single file needs a split column"):
        read_reber_csvs([_write(tmp_path, "x.csv", TRAIN)])
    bad = "string,valid,split\nBTXSE,1,train\nBTTE,0,dev\n"
    with pytest.raises(ReberCsvError, match="row 3, column split: 'dev'"):
        read_reber_csvs([_write(tmp_path, "y.csv", bad)])
    with pytest.raises(ReberCsvError, match="not found"):
        read_reber_csvs([tmp_path / "missing.csv"])
    with pytest.raises(ReberCsvError, match="one CSV with a split column or a train and a test"):
        read_reber_csvs([tmp_path / "a.csv"] * 3)


def test_label_check_can_be_skipped_for_other_data(tmp_path) -> None:
    text = "string,valid,split\nAB,1,train\nBA,0,train\nAA,1,test\nBB,0,test\n"
    ds = read_reber_csvs([_write(tmp_path, "other.csv", text)], grammar=None)
    assert summarize(ds)["label_disagreements"] == 2  # AB and AA are labelled 1, not Reber
    assert summarize(ds)["outside_reber_alphabet"] == "A"


def test_summary_counts_balance_lengths_and_overlap(tmp_path) -> None:
    ds = generate_reber_dataset(n=400, seed=0, unique=False)  # i.i.d.: an overlap to count
    summary = summarize(ds)
    train = summary["splits"]["train"]
    assert train["rows"] == 300 and train["positives"] == 150 and train["positive_share"] == 0.5
    lengths = [
        len(s)
        for s, y, sp in zip(ds.strings, ds.labels, ds.splits, strict=True)
        if y and sp == "train"
    ]
    assert train["length_positive"]["max"] == max(lengths)
    assert summary["overlap"]["test_in_train"] == ds.leakage() > 0
    assert summary["label_disagreements"] == 0 and summary["outside_reber_alphabet"] == ""


def test_cli_check_files_and_strings(tmp_path, capsys) -> None:
    tr, te = _write(tmp_path, "tr.csv", TRAIN), _write(tmp_path, "te.csv", TEST)
    assert main(["reber", "check", str(tr), str(te)]) == 0
    out = capsys.readouterr().out
    assert "train: 4 rows, 2 valid / 2 invalid" in out and "sha256:" in out
    assert main(["reber", "check", str(tr)]) == 2  # no split column
    assert "split column" in capsys.readouterr().err
    assert main(["reber", "check", str(tr), "BTXSE"]) == 2
    assert main(["reber", "check", "BTXSE"]) == 0  # 0.1.0 usage unchanged


def test_cli_generate_authors(tmp_path, capsys) -> None:
    out = tmp_path / "a.csv"
    assert (
        main(["reber", "generate", "--n", "400", "--negatives", "authors", "--output", str(out)])
        == 0
    )
    ds = read_reber_csv(out)
    assert len(set(ds.strings)) == 400 and "0.0% of test strings" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:  # argparse rejects unknown choices with exit 2
        main(["reber", "generate", "--n", "40", "--negatives", "nope", "--output", str(out)])
    assert info.value.code == 2


def test_load_reber_data_reads_csv_or_generates(tmp_path) -> None:
    from hiddenstruct.data.reber import load_reber_data
    from hiddenstruct.data.reber_torch import torch_splits

    generated = load_reber_data(n=200, seed=1, negatives="authors")
    assert generated == generate_reber_dataset(200, 1, negatives="authors")
    path = generated.to_csv(tmp_path / "g.csv")
    back = load_reber_data([path], n=10, negatives="mix")  # generation settings unused
    assert back.checksum() == generated.checksum()
    train, test = torch_splits(back)
    assert (len(train), len(test)) == (150, 50)
