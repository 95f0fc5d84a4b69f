"""prune_structured: ``selection`` ranks the groups, ``scope`` chooses the tensors (as in
prune); the old spelling ``scope="layer"|"global"`` keeps working with a FutureWarning."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn import dependency_graph, get_mask, masked_modules
from hiddenstruct.pruning import group_scores, prune_structured, prune_structured_schedule
from hiddenstruct.pruning.schedules import relative
from hiddenstruct.zoo import LeNet5, RNNTextClassifier, mlp


def _masks(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: get_mask(module, t).clone() for name, module, t in masked_modules(model)}


def _pruned(selection=None, scope=None, **options) -> tuple[dict, object]:
    model = mlp([12, 10, 8, 3], seed=0)
    x = torch.randn(4, 12, generator=torch.Generator().manual_seed(0))
    kwargs = {} if selection is None else {"selection": selection}
    report = prune_structured(model, 0.4, example_inputs=x, scope=scope, **kwargs, **options)
    return _masks(model), report


def test_the_old_scope_spelling_is_the_selection_with_a_future_warning():
    for old, new in (("global", "class_blinded"), ("layer", "class_uniform")):
        with pytest.warns(FutureWarning, match=f"pass selection='{old}'"):
            masks, report = _pruned(scope=old)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the new spellings warn nothing
            by_name, named = _pruned(selection=old)
            by_selector, _ = _pruned(selection=new)
        assert report.selection == named.selection == old
        for other in (by_name, by_selector):
            assert masks.keys() == other.keys()
            assert all(torch.equal(masks[k], other[k]) for k in masks)
    with pytest.raises(UsageError, match="pass only selection="):
        _pruned(selection="global", scope="layer")


def test_the_selections_differ_where_layers_differ():
    layer, _ = _pruned(selection="layer")
    global_, report = _pruned(selection="global")
    assert report.selection == "global"
    assert any(not torch.equal(layer[k], global_[k]) for k in layer)


def test_a_scope_prunes_only_the_groups_of_its_layers_and_names_the_others():
    model, x = LeNet5(), torch.randn(2, 1, 28, 28)
    report = prune_structured(model, 0.5, example_inputs=x, scope=["fc1.weight", "fc2.weight"])
    assert [c.layer for c in report.layers] == ["fc1:out", "fc2:out"]
    assert report.left_alone == ("conv1:out", "conv2:out")
    assert [(c.before, c.after) for c in report.layers] == [(120, 60), (84, 42)]
    # conv1 and conv2 own the groups left alone and read no pruned unit: untouched
    assert {name for name, _m in _masks(model).items()} == {"fc1.weight", "fc2.weight",
                                                             "fc3.weight"}  # fmt: skip
    # fc1's columns reading conv2's channels are conv2's groups: none masked
    assert bool(get_mask(model.fc1, "weight").any(dim=0).all())
    # the columns reading a pruned unit are masked whatever their scope (fc3 reads fc2)
    assert int((~get_mask(model.fc3, "weight").bool().any(dim=0)).sum()) == 42


def test_recurrent_scopes_need_every_weight_a_hidden_unit_owns():
    model = RNNTextClassifier(vocab=30, embed=6, hidden=8, cell="GRU")
    x = torch.randint(0, 30, (2, 5), generator=torch.Generator().manual_seed(0))
    with pytest.raises(UsageError, match="scope 'h2h' puts no hidden group .* rnn:hidden"):
        prune_structured(model, 0.5, example_inputs=x, scope="h2h")
    default, both = RNNTextClassifier(vocab=30, embed=6, hidden=8, cell="GRU"), model
    prune_structured(default, 0.5, example_inputs=x)
    prune_structured(both, 0.5, example_inputs=x, scope="both")
    assert _masks(default).keys() == _masks(both).keys()
    assert all(torch.equal(_masks(default)[k], _masks(both)[k]) for k in _masks(default))


def test_taylor_prunes_the_groups_group_scores_ranks_lowest():
    model = mlp([12, 10, 8, 3], seed=0)
    x = torch.randn(6, 12, generator=torch.Generator().manual_seed(1))
    batch = (x, torch.tensor([0, 1, 2, 0, 1, 2]))
    graph = dependency_graph(model, x)
    scores = group_scores(graph, graph.groups, "taylor", batch=batch)
    prune_structured(model, 0.5, example_inputs=x, criterion="taylor", batch=batch, graph=graph)
    for layer in {g.layer for g in graph.groups}:
        index = [i for i, g in enumerate(graph.groups) if g.layer == layer]
        module = model[int(layer.split(":")[0])]
        alive = get_mask(module, "weight").bool().any(dim=1)
        kept = scores[index][alive]
        assert int((~alive).sum()) == len(index) // 2
        assert scores[index][~alive].max() <= kept.min()


def test_the_schedule_takes_both_spellings_and_warns_once():
    x = torch.randn(4, 12, generator=torch.Generator().manual_seed(0))
    new, old = mlp([12, 10, 8, 3], seed=0), mlp([12, 10, 8, 3], seed=0)
    steps = {"example_inputs": x, "steps": 2, "criterion": "l2"}
    prune_structured_schedule(new, relative(0.3), selection="global", **steps)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prune_structured_schedule(old, relative(0.3), scope="global", **steps)
    assert [type(w.message) for w in caught] == [FutureWarning]
    assert all(torch.equal(_masks(new)[k], _masks(old)[k]) for k in _masks(new))
