"""Read Reber data from CSV: one file with a ``split`` column, or a train and a test file.

Columns ``string`` and ``valid`` (``0``/``1`` or ``true``/``false``, any case); ``split``
(``train``/``test``) is required for one file and optional for two (it must then agree with
the file's role). A leading unnamed column (the index pandas writes by default) is dropped;
other extra columns are ignored. Every problem raises :class:`ReberCsvError` naming the file,
row and column and saying how to fix it::

    ds = read_reber_csvs(["train_data.csv", "test_data.csv"])   # or read_reber_csvs(["all.csv"])
    ds.checksum()                                               # the data's identity in a trial
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from hiddenstruct.data.reber_dataset import SPLITS, ReberDataset
from hiddenstruct.data.reber_grammar import get_grammar
from hiddenstruct.errors import DataError, UsageError

REQUIRED_COLUMNS = ("string", "valid")
LABELS = {"0": 0, "1": 1, "false": 0, "true": 1}


class ReberCsvError(UsageError, DataError):
    """A Reber CSV given by the user is missing, unreadable or malformed (exit code 2)."""


def read_reber_csv(path: str | Path, grammar: str | None = "reber") -> ReberDataset:
    """Read one CSV with columns ``string,valid,split`` (as written by ``ReberDataset.to_csv``)."""
    return read_reber_csvs([path], grammar=grammar)


def read_reber_csvs(paths: Sequence[str | Path], grammar: str | None = "reber") -> ReberDataset:
    """One CSV with a ``split`` column, or ``[train, test]``; labels checked against ``grammar``.

    ``grammar=None`` skips the label check (data of another task); each split must hold
    both classes.
    """
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if len(paths) not in (1, 2):
        raise ReberCsvError(
            f"give one CSV with a split column or a train and a test CSV, got {len(paths)} files"
        )
    roles: list[str | None] = [None] if len(paths) == 1 else list(SPLITS)
    rows: list[tuple[str, int, str, str]] = []  # string, label, split, "file, row N"
    for path, role in zip(paths, roles, strict=True):
        rows += _read_rows(path, role)
    if grammar is not None:
        _check_labels(rows, get_grammar(grammar))
    dataset = ReberDataset(
        strings=tuple(r[0] for r in rows),
        labels=tuple(r[1] for r in rows),
        splits=tuple(r[2] for r in rows),
        kinds=tuple("positive" if r[1] else "negative" for r in rows),
    )
    _check_splits(dataset, paths)
    return dataset


def _read_rows(path: Path, role: str | None) -> list[tuple[str, int, str, str]]:
    text = _read_text(path)
    try:
        records = list(csv.reader(io.StringIO(text)))
    except csv.Error as err:  # e.g. a field over csv's limit (131 072 characters)
        raise ReberCsvError(
            f"{path}: not a readable CSV ({err}); a Reber CSV holds short strings and 0/1 labels"
        ) from None
    if not records:
        raise ReberCsvError(
            f"{path}: the file is empty; expected a header with columns string,valid"
        )
    header = [h.strip() for h in records[0]]
    drop_index = bool(header) and header[0] in ("", "Unnamed: 0")
    if drop_index:
        header = header[1:]
    missing = [
        c for c in (*REQUIRED_COLUMNS, *(("split",) if role is None else ())) if c not in header
    ]
    if missing:
        hint = (
            ""
            if role is not None or missing != ["split"]
            else (
                " (a single file needs a split column with train/test; or give a train and a test file)"
            )
        )
        raise ReberCsvError(f"{path}: missing column(s) {', '.join(missing)}; found {header}{hint}")
    index = {name: header.index(name) for name in (*REQUIRED_COLUMNS, "split") if name in header}
    rows = []
    for line, record in enumerate(records[1:], start=2):
        if drop_index:
            record = record[1:]
        if not record or all(not field.strip() for field in record):
            continue  # blank line
        if len(record) != len(header):
            raise ReberCsvError(
                f"{path}, row {line}: expected {len(header)} fields, got {len(record)}"
            )
        rows.append(_parse_row(path, line, record, index, role))
    return rows


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ReberCsvError(f"Reber CSV {path} not found; check the path") from None
    except IsADirectoryError:
        raise ReberCsvError(f"Reber CSV {path} is a folder; give the CSV file itself") from None
    except OSError as err:
        raise ReberCsvError(f"cannot read Reber CSV {path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise ReberCsvError(
            f"{path}: not UTF-8/ASCII text ({err.reason} at byte {err.start})"
        ) from None


def _parse_row(
    path: Path, line: int, record: list[str], index: dict[str, int], role: str | None
) -> tuple[str, int, str, str]:
    string = record[index["string"]]
    where = f"{path}, row {line}, column"
    if not string:
        raise ReberCsvError(f"{where} string: empty string; remove the row or fill it in")
    if not string.isascii() or not string.isprintable() or string != string.strip():
        raise ReberCsvError(
            f"{where} string: {string!r} has non-ASCII, control or surrounding blank characters; "
            "strings must be printable ASCII (the models read ASCII codes)"
        )
    raw_label = record[index["valid"]].strip()
    label = LABELS.get(raw_label.lower())
    if label is None:
        raise ReberCsvError(
            f"{where} valid: {raw_label!r} is not a binary label; use 0/1 or true/false"
        )
    split = record[index["split"]].strip() if "split" in index else role
    if split not in SPLITS or (role is not None and split != role):
        expected = role or "train or test"
        raise ReberCsvError(f"{where} split: {split!r}; expected {expected}")
    return string, label, split, f"{path}, row {line}"


def _check_labels(rows: list[tuple[str, int, str, str]], spec) -> None:
    for string, label, _, where in rows:
        if label != spec.accepts(string):
            raise ReberCsvError(
                f"{where}: {string!r} is labelled "
                f"{label} but the {spec.name} grammar says {int(not label)}; fix the label "
                "(or skip the check for data of another grammar)"
            )


def _check_splits(dataset: ReberDataset, paths: list[Path]) -> None:
    files = ", ".join(map(str, paths))
    for split in SPLITS:
        positives, negatives = dataset.count(split, 1), dataset.count(split, 0)
        if positives + negatives == 0:
            raise ReberCsvError(f"{files}: the {split} split is empty; every split needs rows")
        if positives == 0 or negatives == 0:
            raise ReberCsvError(
                f"{files}: the {split} split has only one class ({positives} valid, "
                f"{negatives} invalid); both classes are needed to train and to test"
            )
