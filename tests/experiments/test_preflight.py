"""Preflight checks: a bad data folder or output path is one clear error before any trial."""

from __future__ import annotations

import gzip
import struct

import pytest

from hiddenstruct.errors import DataError, UsageError
from hiddenstruct.trials.preflight import check_image_data, check_output_dir


def test_digits_needs_no_folder_and_passes():
    check_image_data("digits", None)


def test_missing_mnist_folder_names_the_option(tmp_path):
    with pytest.raises(DataError, match="needs --data-dir"):
        check_image_data("mnist", tmp_path / "nope")


def test_wrong_magic_number_names_file_and_cause(tmp_path):
    # a labels file where the images file should be: magic 2049 instead of 2051
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as handle:
        handle.write(struct.pack(">IIII", 2049, 1, 28, 28) + bytes(784))
    with pytest.raises(DataError) as info:
        check_image_data("mnist", tmp_path)
    message = str(info.value)
    assert "mnist train split" in message and "train-images" in message, message


def test_output_dir_checks(tmp_path):
    assert check_output_dir(tmp_path / "a" / "b").is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="existing file"):
        check_output_dir(blocker)
    assert list((tmp_path / "a" / "b").iterdir()) == []  # the probe file is gone
