"""Exact OBD Hessian diagonal (closed form) vs. one double-backward per weight; one pruning step.

Workload: a ReLU MLP 784-100-10 (79 400 weights) and 1 000 MNIST training images
(``../shared/data/mnist`` or ``--data-dir``; the embedded digits, 64-100-10, when MNIST is
absent — the script says which). Mean cross-entropy over the 1 000 samples.

* ours: ``hessian_diagonal(model, targets, loader, method="exact")`` — C = 10 backward passes
  per batch plus one matrix product per layer (see ``hiddenstruct/pruning/obd.py``);
* baseline: the approach of the paper's code — the gradient with ``create_graph=True``, then
  one more backward per weight to read ∂²L/∂w_k². Timed on a random subset of weights
  (``--weights``, default 50) and **extrapolated** linearly to all weights: the one-time
  gradient cost plus the per-weight cost × the number of weights (the per-weight cost is
  constant); the printed baseline is that extrapolation. A check asserts that both give
  the same diagonal entries on the subset.

Second part: one class-blinded magnitude pruning step (20 %) on LeNet-300-100 with
``hiddenstruct.pruning.prune`` vs. ``torch.nn.utils.prune.global_unstructured`` (L1), and the
time of one OBD (exact) pruning step, for reference.

Run: ``python benchmarks/bench_obd.py [--quick] [--repeats R] [--data-dir DIR]``.
Timings on a shared machine are noisy.
"""

from __future__ import annotations

import copy
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from common import bench_parser, measure, repeats_of, report
from torch import nn
from torch.nn.utils import prune as torch_prune

from hiddenstruct.nn import MaskedDeepFFN
from hiddenstruct.pruning import hessian_diagonal, prune, resolve_scope

DEFAULT_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def load_samples(data_dir: Path | None, n: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """n training images as flat float tensors in [0, 1] with labels, and the dataset's name."""
    folder = data_dir or DEFAULT_MNIST
    if folder.exists():
        from hiddenstruct.data.mnist import load_mnist

        images, labels = load_mnist(folder, "train")
        x = torch.from_numpy(images[:n].reshape(n, -1)).float() / 255
        return x, torch.from_numpy(labels[:n]).long(), "mnist"
    from hiddenstruct.data.images import load_image_dataset

    ds = load_image_dataset("digits", None, "train", flatten=True)
    return ds.tensors[0][:n], ds.tensors[1][:n], "digits"


def per_weight_double_backward(model, targets, x, y, picks) -> dict[tuple[str, int], float]:
    """Baseline: gradient with create_graph, then one backward per selected weight."""
    names = list(targets)
    params = [targets[n].raw_weight for n in names]
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    out = {}
    for name, index in picks:
        i = names.index(name)
        flat = grads[i].reshape(-1)
        (row,) = torch.autograd.grad(flat[index], params[i], retain_graph=True)
        out[(name, index)] = float(row.reshape(-1)[index])
    return out


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0], default_repeats=3)
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST folder")
    parser.add_argument(
        "--weights", type=int, default=None, help="baseline subset size (50; 20 quick)"
    )
    args = parser.parse_args()
    repeats = repeats_of(args)
    torch.manual_seed(0)
    n = 300 if args.quick else 1000
    x, y, dataset = load_samples(args.data_dir, n)
    model = MaskedDeepFFN(x.shape[1], 10, [100])
    targets = resolve_scope(model)
    loader = [(x, y)]
    total = sum(t.numel for t in targets.values())
    print(f"workload: {dataset}, {x.shape[1]}-100-10 ({total} weights), {n} samples", flush=True)

    diag, used = hessian_diagonal(model, targets, loader, method="exact")
    assert used == "exact"
    generator = torch.Generator().manual_seed(1)
    k = args.weights or (20 if args.quick else 50)
    names = list(targets)
    sizes = [targets[name].numel for name in names]
    flat_picks = torch.randperm(total, generator=generator)[:k].tolist()
    picks = []
    for g in flat_picks:
        for name, size in zip(names, sizes, strict=True):
            if g < size:
                picks.append((name, g))
                break
            g -= size
    reference = per_weight_double_backward(model, targets, x, y, picks)
    for (name, index), value in reference.items():
        ours_value = float(diag[name].reshape(-1)[index])
        assert abs(ours_value - value) <= 1e-5 + 1e-3 * abs(value), (name, index, ours_value, value)
    print(f"check: exact diagonal == double-backward on {len(picks)} weights", flush=True)

    ours = measure(lambda: hessian_diagonal(model, targets, loader, method="exact"), repeats)
    subset, extrapolated = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        per_weight_double_backward(model, targets, x, y, [])  # gradient with create_graph only
        middle = time.perf_counter()
        per_weight_double_backward(model, targets, x, y, picks)
        end = time.perf_counter()
        per_weight = max((end - middle) - (middle - start), 0.0) / len(picks)
        subset.append(end - middle)
        extrapolated.append((middle - start) + per_weight * total)
    print(
        f"baseline measured on {len(picks)} weights: median {statistics.median(subset):.4g} s, "
        f"extrapolated ×{total / len(picks):.0f} to all {total} weights",
        flush=True,
    )
    report("obd exact diagonal vs per-weight double backward (extrapolated)", ours, extrapolated)

    lenet = MaskedDeepFFN(x.shape[1], 10, [300, 100])
    reference_net = nn.Sequential(
        nn.Linear(x.shape[1], 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10)
    )

    def ours_step():
        prune(copy.deepcopy(lenet), "magnitude", "class_blinded", 0.2)

    def torch_step():
        net = copy.deepcopy(reference_net)
        layers = [(m, "weight") for m in net if isinstance(m, nn.Linear)]
        torch_prune.global_unstructured(
            layers, pruning_method=torch_prune.L1Unstructured, amount=0.2
        )

    report(
        "prune step LeNet-300-100 class-blinded 20% vs torch global_unstructured",
        measure(ours_step, repeats),
        measure(torch_step, repeats),
    )
    obd_step = measure(
        lambda: prune(copy.deepcopy(lenet), "obd", "class_blinded", 0.2, data=loader), repeats
    )
    print(
        f"prune step LeNet-300-100 OBD exact 20% over {n} samples: median {statistics.median(obd_step):.4g} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
