"""The recurrent engine's product choices, measured: sparse or dense products, whole or blocked
``dW_hh``.

``hiddenstruct.nn.rnn_native`` picks, per masked weight, sparse products when the mask keeps
at most ``SPARSE_DENSITY`` of its entries (5 % for both), and for a
``W_hh`` in diagonal blocks that cover at most ``BLOCK_SHARE`` of it (half) the weight's
gradient in the blocks only. Both are our choices; this script measures them with the real
engine. For each shape it times a forward + backward of a one-layer GRU stack
(``run_stack``, 1 thread, the sides' repeats interleaved) with the choice forced each way:

1. ``W_ih`` masked (``W_hh`` dense): sparse against dense products, over rows (batch ×
   steps), input widths, hidden sizes and densities;
2. ``W_hh`` masked (``W_ih`` dense): the same, one step's rows at a time;
3. ``W_hh`` in n diagonal blocks (70 % filled inside): gradient in the blocks against the
   whole product.

Per shape: both medians and the rule's pick; per part: the rule's total time against always
the faster side (the oracle) and against always dense, and its worst shape. A ``report``
line ``rule vs always dense`` (ratio > 1: the rule is faster) closes each part.
Run: ``python benchmarks/bench_engine_choice.py [--quick] [--repeats R]``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import statistics

import torch
from common import bench_parser, measure_interleaved, repeats_of, report

from hiddenstruct.nn import rnn_native
from hiddenstruct.nn.rnn import MODES
from hiddenstruct.nn.rnn_native import run_stack
from hiddenstruct.nn.varlen import Wiring

MODE = MODES["GRU"]


@contextlib.contextmanager
def engine_settings(**values):
    """``rnn_native``'s module settings (FORCE_SPARSE, SPARSE_DENSITY, BLOCK_SHARE) for the
    block's duration."""
    before = {name: getattr(rnn_native, name) for name in values}
    for name, value in values.items():
        setattr(rnn_native, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(rnn_native, name, value)


def random_mask(shape, density: float, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=gen) < density).float()


def block_mask(hidden: int, blocks: int, gen: torch.Generator, fill: float = 0.7):
    """A [3 H, H] GRU W_hh mask inside ``blocks`` diagonal blocks of (about) equal width."""
    edges = torch.linspace(0, hidden, blocks + 1).round().long().tolist()
    inside = torch.zeros(hidden, hidden, dtype=torch.bool)
    for begin, end in itertools.pairwise(edges):
        inside[begin:end, begin:end] = True
    keep = torch.rand(MODE.gates, hidden, hidden, generator=gen) < fill
    return (keep & inside).reshape(MODE.gates * hidden, hidden).float()


def stack_run(features, hidden, batch, steps, mask_ih, mask_hh, gen):
    """A forward + backward of one GRU layer, its weights given unmasked with their masks
    (``premask``), as the models give them."""
    rows = MODE.gates * hidden
    w_ih = (0.3 * torch.randn(rows, features, generator=gen)).requires_grad_()
    w_hh = (0.3 * torch.randn(rows, hidden, generator=gen)).requires_grad_()
    biases = [torch.zeros(rows, requires_grad=True) for _ in range(2)]
    x = torch.randn(batch, steps, features, generator=gen, requires_grad=True)
    wiring = Wiring.chain(MODE, [hidden])
    masks = [(mask_ih, mask_hh)]

    def run() -> None:
        result = run_stack(
            wiring, x, None, [w_ih, w_hh, *biases], masks=masks, premask=[*masks[0], None, None]
        )
        result.final.sum().backward()

    return run


def timed_pair(run, first: dict, second: dict, repeats: int) -> tuple[float, float]:
    def side(settings):
        def call():
            with engine_settings(**settings):
                run()

        return call

    times = measure_interleaved({"a": side(first), "b": side(second)}, repeats)
    return statistics.median(times["a"]), statistics.median(times["b"])


def summarise(part: str, rows: list[tuple[str, float, float, bool]]) -> None:
    """rows: (shape, time of the choice, time of the alternative, whether the rule chose it)."""
    rule = sum(c if chosen else a for _, c, a, chosen in rows)
    oracle = sum(min(c, a) for _, c, a, _ in rows)
    dense = sum(a for _, _, a, _ in rows)
    wrong = [max(c, a) / min(c, a) for _, c, a, chosen in rows if (c < a) != chosen]
    worst = max(wrong, default=1.0)
    print(
        f"{part}: {len(rows)} shapes; the rule picked the slower side in {len(wrong)}; "
        f"its total is {100 * (rule / oracle - 1):.1f} % over the oracle's (worst shape "
        f"{worst:.2f}x slower), always dense {100 * (dense / oracle - 1):.1f} % over",
        flush=True,
    )
    report(f"{part} rule vs always dense", [rule], [dense])


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0], default_repeats=3)
    args = parser.parse_args()
    repeats = repeats_of(args)
    torch.set_num_threads(1)
    os.environ.pop(rnn_native.ENV_SPARSE, None)
    print(f"# 1 torch thread, median of {repeats}, load average {os.getloadavg()[0]:.2f}")
    gen = torch.Generator().manual_seed(0)
    sparse = {"FORCE_SPARSE": True}
    dense = {"FORCE_SPARSE": False, "SPARSE_DENSITY": (0.0, 0.0), "BLOCK_SHARE": -1.0}
    limit_ih, limit_hh = rnn_native.SPARSE_DENSITY

    quick = args.quick
    parts = {
        "W_ih": itertools.product(
            [256] if quick else [256, 1024],  # rows: batch x steps (steps 8)
            [16, 200] if quick else [16, 64, 200],
            [16, 50] if quick else [16, 50, 150],
            [0.01, 0.2] if quick else [0.01, 0.03, 0.1, 0.2, 0.3],
        ),
        "W_hh": itertools.product(
            [32] if quick else [32, 128],  # batch (steps 20)
            [50] if quick else [50, 150],
            [0.01, 0.2] if quick else [0.01, 0.05, 0.1, 0.2, 0.3],
        ),
    }
    for part, shapes in parts.items():
        rows = []
        for shape in shapes:
            if part == "W_ih":
                n, features, hidden, density = shape
                batch, steps = n // 8, 8
                mask = random_mask((MODE.gates * hidden, features), density, gen)
                run = stack_run(features, hidden, batch, steps, mask, None, gen)
                name = f"W_ih rows {n} in {features} H {hidden} density {density:.2f}"
                chosen = density <= limit_ih
            else:
                batch, hidden, density = shape
                mask = random_mask((MODE.gates * hidden, hidden), density, gen)
                run = stack_run(16, hidden, batch, 20, None, mask, gen)
                name = f"W_hh batch {batch} H {hidden} density {density:.2f}"
                chosen = density <= limit_hh
            t_sparse, t_dense = timed_pair(run, sparse, dense, repeats)
            pick = "sparse" if chosen else "dense"
            print(
                f"  {name}: sparse {t_sparse * 1e3:.3f} ms, dense {t_dense * 1e3:.3f} ms, "
                f"dense / sparse {t_dense / t_sparse:.2f}; the rule: {pick}",
                flush=True,
            )
            rows.append((name, t_sparse, t_dense, chosen))
        summarise(f"{part} sparse products", rows)

    rows = []
    blocks_on = {"FORCE_SPARSE": False, "SPARSE_DENSITY": (0.0, 0.0), "BLOCK_SHARE": 1.0}
    for hidden, blocks in itertools.product(
        [40] if quick else [40, 120], [2, 8] if quick else [2, 3, 4, 8, 16]
    ):
        mask = block_mask(hidden, blocks, gen)
        found = rnn_native.diagonal_blocks(mask)
        run = stack_run(16, hidden, 128, 20, None, mask, gen)
        t_blocks, t_whole = timed_pair(run, blocks_on, dense, repeats)
        chosen = found.count > 1 and found.share <= rnn_native.BLOCK_SHARE
        print(
            f"  W_hh H {hidden} in {found.count} blocks (share {found.share:.2f}): blocks "
            f"{t_blocks * 1e3:.3f} ms, whole {t_whole * 1e3:.3f} ms, whole / blocks "
            f"{t_whole / t_blocks:.2f}; the rule: {'blocks' if chosen else 'whole'}",
            flush=True,
        )
        rows.append((f"H {hidden} blocks {blocks}", t_blocks, t_whole, chosen))
    summarise("W_hh blocked gradients", rows)


if __name__ == "__main__":
    main()
