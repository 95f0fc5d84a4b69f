"""MaskedRNN (native engine) vs. a per-step masked reference cell, training on Reber strings.

Workload per measurement ("epoch-equivalent"): ``--batches`` training steps (default 30,
``--quick`` 8) of the paper's base model — embedding (ASCII codes, dim 16) → 3 recurrent
layers of 50 units → linear readout — batch 32, Adam lr 1e-3, cross-entropy, on Reber
strings from ``hiddenstruct.data.reber`` (seeded; variable lengths, padded). Every i2h and
h2h weight carries a 50 % random mask. Both sides start from identical weights and masks:

* ours: ``SequenceClassifier(MaskedRNN(...))`` — on CPU the whole stack is one node of the
  C++ engine (``hiddenstruct.nn.rnn_native``: one call per forward and per backward); on
  CUDA cuDNN (see docs/recurrent.md). A ``[pytorch kernels]`` line times, in the same run,
  the fallback: PyTorch's own kernels on the masked weights (``fused_cpu=False``);
* baseline: the approach of the paper's code — a Python loop over the padded time steps in
  which each step's cell (``hiddenstruct.testing.reference_step``) multiplies weights by
  masks (``W ⊙ M``, ``U ⊙ M``) and does the matmuls; each sequence's final state is then
  read at its true last step.

A check before timing makes sure both sides compute the same logits (1e-4).
Prints ``mode: ours X s, baseline Y s, ratio R`` (medians) for all four modes, and a
``mode [dense floor]`` line: the time of only the matrix products that any dense fp32
implementation of the workload must do (per layer: the input projection over all steps, one
``h·W_hhᵀ`` and one ``dg·W_hh`` product per step, ``dW_ih``, ``dW_hh`` and ``dx`` over all steps;
preallocated outputs, a plain Python loop over steps) plus the Adam steps, with no
elementwise gate math at all; ``ours / floor`` is printed next to it.
``mode [inference vs torch.nn.GRU]``: the forward only, every step's output
(``MaskedRNN.forward`` on the embedded batch with its lengths, no autograd) against
PyTorch's own ``nn.GRU`` / ``nn.LSTM`` / ``nn.RNN`` of the same sizes without masks on the same
packed batch (``pack_padded_sequence`` → module → ``pad_packed_sequence``, what a user
would run); a ratio ≥ 1 means the masked model costs no more than PyTorch's dense one.
Run: ``python benchmarks/bench_rnn.py [--quick] [--batches N] [--repeats R] [--threads T]``.
Timings on a shared machine are noisy: runs of all sides are interleaved.
"""

from __future__ import annotations

import copy
import statistics

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from hiddenstruct.data.reber import generate_reber_dataset
from hiddenstruct.data.reber_torch import ReberTorchDataset, reber_collate
from hiddenstruct.nn import SequenceClassifier, apply_mask, get_mask, rnn_native
from hiddenstruct.nn.rnn import MODES, MaskedRNN
from hiddenstruct.testing import reference_step
from hiddenstruct.training.optim import make_optimizer

try:
    from common import bench_parser, measure_interleaved, repeats_of, report
except ImportError:  # imported as benchmarks.bench_rnn
    from benchmarks.common import bench_parser, measure_interleaved, repeats_of, report

HIDDEN = [50, 50, 50]
EMBEDDING = 16
BATCH = 32


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
                out, state = reference_step(
                    rnn.mode, x[:, t], state, w_ih * m_ih, w_hh * m_hh, layer.bias_ih, layer.bias_hh
                )
                outputs.append(out)
            x = torch.stack(outputs, dim=1)
        last = (lengths.to(x.device) - 1).view(-1, 1, 1).expand(-1, 1, x.shape[-1])
        return self.model.readout(x.gather(1, last).squeeze(1))


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
    params = list(model.parameters())
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    sizes, gates = [EMBEDDING, *HIDDEN], MODES[model.rnn.mode].gates
    work = []
    for codes, _, _ in data:
        steps = codes.shape[1]
        for layer, hidden in enumerate(HIDDEN):
            rows, width = steps * BATCH, sizes[layer]
            x, w_ih = torch.randn(rows, width), torch.randn(gates * hidden, width)
            w_hh, states = torch.randn(gates * hidden, hidden), torch.randn(rows, hidden)
            work.append((steps, x, w_ih, w_hh, states, torch.randn(rows, gates * hidden)))

    def run() -> None:
        opt = make_optimizer("adam", params, 1e-3)
        for i, (steps, x, w_ih, w_hh, states, d_g) in enumerate(work):
            torch.mm(x, w_ih.t())
            _step_products(states[:BATCH], d_g[:BATCH], w_hh, steps)
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
    opt = make_optimizer("adam", model.parameters(), 1e-3)
    for codes, lengths, labels in data:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(codes, lengths), labels)
        loss.backward()
        opt.step()
    if codes.is_cuda:
        torch.cuda.synchronize()


def torch_module(mode: str) -> nn.Module:
    """PyTorch's own recurrent module of the benchmark's sizes (no masks)."""
    kinds = {"GRU": nn.GRU, "LSTM": nn.LSTM}
    cls = kinds.get(mode, nn.RNN)
    extra = {} if mode in kinds else {"nonlinearity": mode.removeprefix("RNN_").lower()}
    return cls(EMBEDDING, HIDDEN[0], num_layers=len(HIDDEN), batch_first=True, **extra)


def inference_runs(model: SequenceClassifier, data):
    """Forward-only runs, every step's output: ours and PyTorch's module (same sizes)."""
    reference = torch_module(model.rnn.mode).to(data[0][0].device)
    inputs = [(model.embedding(codes).detach(), lengths) for codes, lengths, _ in data]

    def ours() -> None:
        with torch.no_grad():
            for x, lengths in inputs:
                model.rnn(x, lengths)

    def pytorch() -> None:
        with torch.no_grad():
            for x, lengths in inputs:
                packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                pad_packed_sequence(reference(packed)[0], batch_first=True)

    return ours, pytorch


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
        help="skip the line timing the fallback (PyTorch's kernels on masked weights)",
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
        f"CPU engine: {'native C++' if native else 'PyTorch kernels (native unusable)'}"
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
        if not args.no_compare_kernels and device.type == "cpu" and native:
            other = copy.deepcopy(model)  # the fallback, for a same-run comparison
            other.rnn.fused_cpu = False
            sides["other"] = other
        runs = {name: lambda m=side: train_steps(m, data) for name, side in sides.items()}
        if device.type == "cpu":
            runs["floor"] = dense_floor(copy.deepcopy(model), data)
        runs["infer"], runs["infer_torch"] = inference_runs(model, data)
        # warm-up (kernels, allocator), then repeats interleaved so load changes hit all sides
        times = measure_interleaved(runs, repeats)
        name = mode.strip().upper()
        report(name, times["ours"], times["baseline"])
        if "other" in times:
            report(f"{name} [pytorch kernels]", times["other"], times["baseline"])
        if "floor" in times:
            report(f"{name} [dense floor]", times["floor"], times["baseline"])
            ratio = statistics.median(times["ours"]) / statistics.median(times["floor"])
            print(f"{name} [ours / dense floor]: {ratio:.2f} (target <= 1.5)")
        cls = type(torch_module(name)).__name__
        report(f"{name} [inference vs torch.nn.{cls}]", times["infer"], times["infer_torch"])


if __name__ == "__main__":
    main()
