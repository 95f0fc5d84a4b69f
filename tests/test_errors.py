"""The one wording for an unknown name (``hiddenstruct.errors.lookup`` / ``check_choice``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import hiddenstruct
from hiddenstruct.data.images import image_dataset_info
from hiddenstruct.errors import GraphError, UsageError, check_choice, lookup, unknown_name
from hiddenstruct.nas.ops import op_spec
from hiddenstruct.nn.activations import get_activation
from hiddenstruct.recurrent_modes import get_mode
from hiddenstruct.sparse_training.schedules import get_update_schedule
from hiddenstruct.training.optim import make_optimizer
from hiddenstruct.trials.export import infer_format

ROOT = Path(hiddenstruct.__file__).parent

#: The wordings the helper replaced ("; use one of" and "must be one of" stay legitimate for
#: things that are not a name, e.g. a dtype, and for argparse's own choices).
OLD_PHRASES = ("; choose from", "; choose one of", "valid modes:", "valid operations:")

TABLE = {"beta": 2, "alpha": 1, "gamma": 3}


def test_the_message_names_the_value_and_lists_the_choices_in_their_order():
    assert unknown_name("colour", "mauve", TABLE) == (
        "unknown colour 'mauve'; valid: beta, alpha, gamma"
    )
    assert unknown_name("colour", 7, ("red", "blue"), "or an RGB tuple") == (
        "unknown colour 7; valid: red, blue or an RGB tuple"
    )
    # a set has no order of its own: sorted, so the message is the same in every process
    assert unknown_name("colour", "x", {"red", "blue", "green"}).endswith("blue, green, red")


def test_lookup_returns_the_entry_or_raises_the_given_error_class():
    assert lookup(TABLE, "alpha", "letter") == 1
    with pytest.raises(UsageError, match=r"^unknown letter 'delta'; valid: beta, alpha, gamma$"):
        lookup(TABLE, "delta", "letter")
    with pytest.raises(GraphError, match="unknown letter"):
        lookup(TABLE, "delta", "letter", error=GraphError)
    with pytest.raises(ValueError, match=r"valid: beta, alpha, gamma or a number$"):
        lookup(TABLE, "delta", "letter", hint="or a number", error=ValueError)


def test_lookup_normalises_with_key_but_shows_the_name_as_given():
    assert lookup(TABLE, "ALPHA", "letter", key=str.lower) == 1
    with pytest.raises(UsageError, match=r"^unknown letter 'Delta'; "):
        lookup(TABLE, "Delta", "letter", key=str.lower)


def test_unhashable_or_odd_names_are_unknown_not_a_type_error():
    with pytest.raises(UsageError, match=r"unknown letter \['alpha'\]"):
        lookup(TABLE, ["alpha"], "letter")
    with pytest.raises(UsageError, match=r"unknown letter \['alpha'\]"):
        check_choice(["alpha"], TABLE, "letter")
    with pytest.raises(UsageError, match="unknown letter 3"):
        lookup(TABLE, 3, "letter", key=str.lower)  # str.lower(3) is a TypeError


def test_check_choice_returns_the_name():
    assert check_choice("b", ("a", "b"), "letter") == "b"
    with pytest.raises(UsageError, match=r"^unknown letter 'c'; valid: a, b$"):
        check_choice("c", ("a", "b"), "letter")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: get_mode("transformer"), ValueError, "recurrent mode 'transformer'"),
        (lambda: op_spec("conv9"), GraphError, "operation 'conv9'"),
        (lambda: get_activation("swish"), UsageError, "activation 'swish'"),
        (lambda: image_dataset_info("imagenet"), UsageError, "image dataset 'imagenet'"),
        (lambda: get_update_schedule("step"), UsageError, "update schedule 'step'"),
        (lambda: infer_format("out.xlsx"), UsageError, "export format 'xlsx'"),
        (
            lambda: make_optimizer("Adamx", [torch.nn.Parameter(torch.zeros(1))], lr=0.1),
            UsageError,
            "optimizer 'Adamx'",
        ),
    ],
)
def test_library_lookups_keep_their_error_class_and_share_the_wording(call, error, message):
    with pytest.raises(error) as info:
        call()
    text = str(info.value)
    assert text.startswith(f"unknown {message}; valid: ") and "\n" not in text
    assert "[" not in text.split("; valid: ")[1]  # plain names, not a Python list


def test_mode_lookup_stays_a_value_error_listing_the_modes_in_the_papers_order():
    # callers (experiment configs) catch ValueError; GraphError and UsageError are no help there
    with pytest.raises(ValueError, match="valid: RNN_TANH, RNN_RELU, LSTM, GRU$"):
        get_mode("conv")


def test_the_optimizer_and_export_hints_survive():
    with pytest.raises(UsageError, match="valid: adam, adamw, sgd or pass a callable$"):
        make_optimizer("adamx", [], lr=0.1)
    with pytest.raises(UsageError, match=r"valid: csv, parquet \(choose one with --format\)$"):
        infer_format("out.xlsx")


def test_no_old_wording_is_left_in_the_source():
    left = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(phrase in line for phrase in OLD_PHRASES):
                left.append(f"{relative}:{number}: {line.strip()}")
    assert not left, "use hiddenstruct.errors.lookup / check_choice:\n" + "\n".join(left)
