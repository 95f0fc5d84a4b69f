"""Every route ends at exactly the target density, with a trajectory and a cost."""

from __future__ import annotations

import pytest

from hiddenstruct.errors import UsageError
from hiddenstruct.sparse_training import ROUTES, RouteOptions, train_route
from hiddenstruct.sparse_training.layers import sparse_layers


@pytest.mark.parametrize("route", ROUTES)
def test_route_reaches_the_target_density_exactly(make_ffn, loader, route):
    net = make_ffn(0)
    options = RouteOptions(epochs=1, update_every=3, track_every=1, l1_strength=1e-3)
    result = train_route(net, route, 0.2, loader, eval_loader=loader, options=options, device="cpu")
    total = sum(layer.numel for layer in sparse_layers(net))
    assert result.density == round(0.2 * total) / total
    assert result.trajectory[0]["step"] == 0 and result.trajectory[-1]["step"] == result.steps
    assert result.trajectory[-1]["xi"] == pytest.approx(result.density)
    assert 0.0 <= result.accuracy <= 1.0 and result.cost > 0 and result.steps > 0
    if route in ("set", "rigl", "sparse_momentum", "pruning"):
        assert len(result.trajectory) > 2  # records during training


def test_costs_order_as_the_methods_work(make_ffn, loader):
    options = RouteOptions(epochs=1, update_every=3)
    cost = {
        route: train_route(
            make_ffn(0), route, 0.2, loader, eval_loader=loader, options=options, device="cpu"
        ).cost
        for route in ("static_erk", "set", "rigl", "sparse_momentum")
    }
    assert cost["static_erk"] == cost["set"] < cost["rigl"] < cost["sparse_momentum"]


def test_unknown_route_lists_valid_ones(make_ffn, loader):
    with pytest.raises(UsageError, match="rigl"):
        train_route(make_ffn(0), "lottery", 0.2, loader, eval_loader=loader)
