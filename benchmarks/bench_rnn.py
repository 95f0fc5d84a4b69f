"""MaskedRNN (fused kernels) vs. a per-step masked reference cell, training on Reber strings.

Workload per measurement ("epoch-equivalent"): ``--batches`` training steps (default 30,
``--quick`` 8) of the paper's base model — embedding (ASCII codes, dim 16) → 3 recurrent
layers of 50 units → linear readout — batch 32, Adam lr 1e-3, cross-entropy, on Reber
strings from ``hiddenstruct.data.reber`` (seeded; variable lengths, padded). Every i2h and
h2h weight carries a 50 % random mask. Both sides start from identical weights and masks:

* ours: ``SequenceClassifier(MaskedRNN(...))`` — on CPU every mode runs the whole stack
  as one node on the packed batch (``MaskedRNN.encode`` → ``hiddenstruct.nn.rnn_stack``),
  by default on the C++ kernels of ``hiddenstruct.nn.rnn_native`` (one call per forward
  and per backward); on CUDA cuDNN (see docs/recurrent.md). Further lines per mode time,
  in the same run, the TorchScript fallback of the same node (``[torchscript]``,
  ``HIDDENSTRUCT_NATIVE=0``) and PyTorch's CPU kernels (``[fused_cpu=False]``, oneDNN for
  LSTM);
* baseline: the approach of the paper's code — a Python loop over the padded time steps in
  which each step's cell multiplies weights by masks (``W ⊙ M``, ``U ⊙ M``) and does the
  matmuls; each sequence's final state is then read at its true last step.

A check before timing makes sure both sides compute the same logits (1e-4).
Prints ``mode: ours X s, baseline Y s, ratio R`` (medians) for all four modes, and a
``mode [dense floor]`` line: the time of only the matrix products that any dense fp32
implementation of the workload must do (per layer: the input projection over all steps, one
``h·W_hh`` and one ``dg·W_hh`` product per step, ``dW_ih``, ``dW_hh`` and ``dx`` over all steps;
TorchScript loops, preallocated outputs) plus the Adam steps, with no elementwise gate
math at all. Its ratio is an upper bound on the speed-up any such kernel can reach here.
Run: ``python benchmarks/bench_rnn.py [--quick] [--batches N] [--repeats R] [--threads T]``.
Timings on a shared machine are noisy: runs of both sides are interleaved.
"""

from __future__ import annotations

import copy
import os

import torch
from torch import nn

from hiddenstruct.data.reber import generate_reber_dataset
from hiddenstruct.data.reber_torch import ReberTorchDataset, reber_collate
from hiddenstruct.nn import SequenceClassifier, apply_mask, get_mask, rnn_native
from hiddenstruct.nn.rnn import MODES, MaskedRNN

try:
    from common import bench_parser, measure, repeats_of, report
except ImportError:  # imported as benchmarks.bench_rnn
    from benchmarks.common import bench_parser, measure, repeats_of, report

HIDDEN = [50, 50, 50]
EMBEDDING = 16
BATCH = 32


def _cell(mode: str, x_t, state, w_ih, w_hh, b_ih, b_hh):
    if mode == "LSTM":
        h, c = state
        i, f, g, o = (x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)
    if mode == "GRU":
        xr, xz, xn = (x_t @ w_ih.T + b_ih).chunk(3, dim=1)
        hr, hz, hn = (state @ w_hh.T + b_hh).chunk(3, dim=1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        h = (1 - z) * torch.tanh(xn + r * hn) + z * state
        return h, h
    pre = x_t @ w_ih.T + b_ih + state @ w_hh.T + b_hh
    h = torch.tanh(pre) if mode == "RNN_TANH" else torch.relu(pre)
    return h, h


class StepLoopClassifier(nn.Module):
    """Baseline: the same parameters and masks, the paper code's per-step masked cell.

    As in the paper's code, each time step calls the cell, which multiplies weights and
    masks (``W ⊙ M``) and does the matmuls; the loop runs over all padded steps and each
    sequence's state is read at its true last step (a gather, cheaper than per-step masking).
    """

    def __init__(self, model: SequenceClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        rnn = self.model.rnn
        x = self.model.embedding(codes)
        batch, steps, _ = x.shape
        for layer in rnn.layers:
            w_ih = layer.parametrizations.weight_ih.original
            w_hh = layer.parametrizations.weight_hh.original
            m_ih = layer.parametrizations.weight_ih[0].mask
            m_hh = layer.parametrizations.weight_hh[0].mask
            h = x.new_zeros(batch, layer.hidden_size)
            state = (h, h) if rnn.mode == "LSTM" else h
            outputs = []
            for t in range(steps):
                out, state = _cell(
                    rnn.mode, x[:, t], state, w_ih * m_ih, w_hh * m_hh, layer.bias_ih, layer.bias_hh
                )
                outputs.append(out)
            x = torch.stack(outputs, dim=1)
        last = (lengths.to(x.device) - 1).view(-1, 1, 1).expand(-1, 1, x.shape[-1])
        return self.model.readout(x.gather(1, last).squeeze(1))


GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def _step_products(h: torch.Tensor, g: torch.Tensor, w_hh: torch.Tensor, steps: int) -> None:
    """``steps`` forward products ``h·W_hhᵀ`` and ``steps`` backward products ``dg·W_hh``."""
    w_t = w_hh.t()
    out_g = torch.empty(h.shape[0], w_hh.shape[0])
    out_h = torch.empty(h.shape[0], w_hh.shape[1])
    for _ in range(steps):
        torch.mm(h, w_t, out=out_g)
    for _ in range(steps):
        torch.mm(g, w_hh, out=out_h)


def dense_floor(model: SequenceClassifier, data):
    """A function doing only the matrix products and Adam steps of ``train_steps(model, data)``.

    All operands are made here, before timing; the returned function does the products.
    """
    step_products = torch.jit.script(_step_products)
    params = list(model.parameters())
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    sizes, gates = [EMBEDDING, *HIDDEN], GATES[model.rnn.mode]
    work = []
    for codes, _, _ in data:
        steps = codes.shape[1]
        for layer, hidden in enumerate(HIDDEN):
            rows, width = steps * BATCH, sizes[layer]
            x, w_ih = torch.randn(rows, width), torch.randn(gates * hidden, width)
            w_hh, states = torch.randn(gates * hidden, hidden), torch.randn(rows, hidden)
            work.append((steps, x, w_ih, w_hh, states, torch.randn(rows, gates * hidden)))

    def run() -> None:
        opt = torch.optim.Adam(params, lr=1e-3)
        for i, (steps, x, w_ih, w_hh, states, d_g) in enumerate(work):
            torch.mm(x, w_ih.t())
            step_products(states[:BATCH], d_g[:BATCH], w_hh, steps)
            torch.mm(d_g.t(), x), torch.mm(d_g.t(), states), torch.mm(d_g, w_ih)
            if i % len(HIDDEN) == len(HIDDEN) - 1:
                opt.step()

    return run


def build(mode: str, seed: int, device: torch.device) -> SequenceClassifier:
    """The paper's base model with 50 % random masks on every i2h and h2h weight."""
    torch.manual_seed(seed)
    model = SequenceClassifier(MaskedRNN(EMBEDDING, HIDDEN, mode), vocab_size=128)
    gen = torch.Generator().manual_seed(seed + 1)
    for layer in model.rnn.layers:
        for name in ("weight_ih", "weight_hh"):
            shape = get_mask(layer, name).shape
            apply_mask(layer, name, (torch.rand(shape, generator=gen) < 0.5).float())
    return model.to(device)


def batches(n_batches: int, seed: int, device: torch.device) -> list[tuple[torch.Tensor, ...]]:
    """``n_batches`` fixed Reber batches of size 32 (codes, lengths, labels)."""
    data = generate_reber_dataset(n=n_batches * BATCH, seed=seed, test_fraction=0.0)
    ds = ReberTorchDataset.from_dataset(data, "train")
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed)).tolist()
    out = []
    for b in range(n_batches):
        items = [ds[i] for i in order[b * BATCH : (b + 1) * BATCH]]
        codes, lengths, labels = reber_collate(items)
        out.append((codes.to(device), lengths, labels.to(device)))
    return out


def train_steps(model: nn.Module, data) -> None:
    """One pass of Adam steps over ``data``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for codes, lengths, labels in data:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(codes, lengths), labels)
        loss.backward()
        opt.step()
    if codes.is_cuda:
        torch.cuda.synchronize()


def without_native(run):
    """``run`` with the native kernels switched off (the TorchScript fallback)."""

    def wrapped() -> None:
        before = os.environ.get(rnn_native.ENV_SWITCH)
        os.environ[rnn_native.ENV_SWITCH] = "0"
        try:
            run()
        finally:
            if before is None:
                del os.environ[rnn_native.ENV_SWITCH]
            else:
                os.environ[rnn_native.ENV_SWITCH] = before

    return wrapped


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__.split("\n")[0], default_repeats=3)
    parser.add_argument(
        "--batches", type=int, default=None, help="training steps per run (30; 8 with --quick)"
    )
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-compare-kernels",
        action="store_true",
        help="skip the extra lines timing MaskedRNN's other CPU paths (TorchScript, fused_cpu)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1: steadier; 0: torch default)"
    )
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    n_batches = args.batches or (8 if args.quick else 30)
    repeats = repeats_of(args)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = batches(n_batches, args.seed, device)
    steps = sum(int(lengths.max()) for _, lengths, _ in data)
    native = device.type == "cpu" and rnn_native.usable(data[0][0].new_empty(0, dtype=torch.float))
    print(
        f"# {n_batches} batches x {BATCH} Reber strings ({steps} padded steps in all), "
        f"embedding {EMBEDDING} -> {len(HIDDEN)}x{HIDDEN[0]}, 50% masks, Adam; device {device}; "
        f"{torch.get_num_threads()} thread(s); median of {repeats}; "
        f"CPU stack engine: {'native C++' if native else 'TorchScript'}"
    )
    for mode in args.modes.split(","):
        model = build(mode.strip(), args.seed, device)
        baseline = StepLoopClassifier(copy.deepcopy(model))
        codes, lengths, _ = data[0]
        with torch.no_grad():  # same function before timing anything
            gap = (model(codes, lengths) - baseline(codes, lengths)).abs().max().item()
        if gap > 1e-4:
            raise SystemExit(f"{mode}: fused and step-loop models disagree by {gap:.2e}")
        sides = {"ours": model, "baseline": baseline}
        if not args.no_compare_kernels and device.type == "cpu":
            other = copy.deepcopy(model)  # the other CPU path, for a same-run comparison
            other.rnn.fused_cpu = not other.rnn._use_stack(codes.new_empty(0, dtype=torch.float))
            sides["other"] = other
        runs = {name: lambda m=side: train_steps(m, data) for name, side in sides.items()}
        if native and not args.no_compare_kernels:
            runs["torchscript"] = without_native(runs["ours"])
        if device.type == "cpu":
            runs["floor"] = dense_floor(copy.deepcopy(model), data)
        for run in runs.values():
            run()  # warm-up (kernels, allocator, TorchScript)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeats):  # interleaved, so load changes hit all sides alike
            for name, run in runs.items():
                times[name] += measure(run, 1, warmup=0)
        name = mode.strip().upper()
        report(name, times["ours"], times["baseline"])
        if "torchscript" in times:
            report(f"{name} [torchscript]", times["torchscript"], times["baseline"])
        if "other" in times:
            label = f"{name} [fused_cpu={sides['other'].rnn.fused_cpu}]"
            report(label, times["other"], times["baseline"])
        if "floor" in times:
            report(f"{name} [dense floor]", times["floor"], times["baseline"])


if __name__ == "__main__":
    main()
