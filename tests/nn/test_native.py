"""The C++ kernels' build, cache and loader (hiddenstruct.nn.native) and the packing plan.

The cache is attacked as an attacker would: a library planted under the predictable file
name (its constructor would create a file), group/world-writable directories, libraries
with missing entry points or a BLAS that computes wrong products."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from hiddenstruct.nn import native, rnn_native
from hiddenstruct.nn.varlen import Wiring
from hiddenstruct.recurrent_modes import MODES

LIB = native.library()
BUILT = None if LIB is None else native.library_path(native._compiler())  # the default cache
needs_lib = pytest.mark.skipif(LIB is None, reason="no C++ compiler: native kernels not built")


def _compile(tmp_path, source: str, target) -> None:
    src = tmp_path / "planted.c"
    src.write_text(source)
    compiler = native._compiler()
    subprocess.run(
        [compiler, "-x", "c", "-shared", "-fPIC", str(src), "-o", str(target)], check=True
    )


def _planted(tmp_path, marker) -> str:
    """A library whose constructor creates ``marker`` (proof that it was loaded)."""
    return (
        "#include <stdio.h>\n"
        "__attribute__((constructor)) static void run(void) {\n"
        f'  FILE* f = fopen("{marker}", "w"); if (f) fclose(f);\n'
        "}\n"
        f"int hs_abi_version(void) {{ return {native.ABI_VERSION}; }}\n"
    )


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """A fresh private cache directory; returns where the library would be built."""
    directory = tmp_path / "cache"
    monkeypatch.setenv(native.ENV_CACHE, str(directory))
    native.private_dir()
    return native.library_path(native._compiler())


@pytest.fixture
def built(cache):
    """The cache holding a copy of this session's verified build (no compiling)."""
    cache.write_bytes(BUILT.read_bytes())
    native.digest_path(cache).write_bytes(native.digest_path(BUILT).read_bytes())
    return cache


@needs_lib
def test_planted_library_with_wrong_digest_is_never_loaded(cache, tmp_path):
    marker = tmp_path / "constructor-ran"
    _compile(tmp_path, _planted(tmp_path, marker), cache)
    native.digest_path(cache).write_text("0" * 64)
    with pytest.warns(UserWarning, match="do not match its recorded digest"):
        lib = native.library.__wrapped__()
    assert lib is not None and not marker.exists()  # rebuilt, never ran the planted code
    assert native.open_verified(cache)[0] is not None


@needs_lib
def test_planted_library_without_digest_is_never_loaded(cache, tmp_path):
    marker = tmp_path / "constructor-ran"
    _compile(tmp_path, _planted(tmp_path, marker), cache)
    data, reason = native.open_verified(cache)
    assert data is None and "no recorded digest" in reason
    assert not marker.exists()


@needs_lib
@pytest.mark.parametrize("mode", [0o770, 0o777, 0o722])
def test_group_or_world_writable_cache_is_refused(cache, mode):
    os.chmod(cache.parent, mode)
    try:
        with pytest.warns(RuntimeWarning, match="writable by others"):
            assert native.library.__wrapped__() is None
        assert not cache.exists()
    finally:
        os.chmod(cache.parent, 0o700)


@needs_lib
def test_writable_library_file_is_refused_and_rebuilt(built):
    cache = built
    os.chmod(cache, 0o666)
    assert "writable by others" in native.open_verified(cache)[1]
    with pytest.warns(UserWarning, match="rebuilding"):
        assert native.library.__wrapped__() is not None
    assert native.unsafe_reason(os.stat(cache), "library") is None


def test_foreign_owner_is_refused():
    info = os.stat_result((0o40700, 0, 0, 1, os.getuid() + 1, 0, 0, 0, 0, 0))
    assert "owned by user" in native.unsafe_reason(info, "the cache")


@needs_lib
def test_incompatible_library_falls_back_with_a_warning(cache, tmp_path):
    """A library whose digest matches but which lacks the entry points (a stale build)."""
    marker = tmp_path / "constructor-ran"
    _compile(tmp_path, _planted(tmp_path, marker), cache)
    digest = hashlib.sha256(cache.read_bytes()).hexdigest()
    native.digest_path(cache).write_text(digest)
    with pytest.warns(RuntimeWarning, match="lacks hs_set_blas"):
        assert native.library.__wrapped__() is None


@needs_lib
def test_a_blas_with_other_products_falls_back_with_a_warning(built, monkeypatch):
    """sgemm_/dgemm_ that compute something else (e.g. another calling convention)."""
    zero_gemm = LIB.hs_abi_version  # a C function that ignores its arguments
    address = native.ctypes.cast(zero_gemm, native.ctypes.c_void_p).value
    monkeypatch.setattr(native, "_blas_symbols", lambda: (address, address))
    with pytest.warns(RuntimeWarning, match="wrong products"):
        assert native.library.__wrapped__() is None


def test_missing_blas_symbols_fall_back_with_a_warning(monkeypatch):
    monkeypatch.setattr(native, "_blas_symbols", lambda: (None, None))
    with pytest.warns(RuntimeWarning, match="sgemm_"):
        assert native.library.__wrapped__() is None


@needs_lib
def test_failed_build_warns_and_falls_back(cache, monkeypatch):
    monkeypatch.setenv("CXX", "false")  # a "compiler" that always fails
    with pytest.warns(RuntimeWarning, match="not using the native kernels"):
        assert native.library.__wrapped__() is None
    assert list(cache.parent.iterdir()) == []  # nothing half-written


def test_missing_compiler_means_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv(native.ENV_CACHE, str(tmp_path))
    monkeypatch.setenv("CXX", "no-such-compiler-hiddenstruct")
    assert native.library.__wrapped__() is None


@needs_lib
def test_build_is_cached_private_and_verified(cache, monkeypatch):
    assert native.library.__wrapped__() is not None
    assert oct(os.stat(cache.parent).st_mode & 0o777) == "0o700"
    assert sorted(p.name for p in cache.parent.iterdir()) == [cache.name, cache.name + ".sha256"]
    assert native.open_verified(cache)[0] == cache.read_bytes()

    def no_rebuild(*args):
        raise AssertionError("rebuilt although the cached library matches")

    monkeypatch.setattr(native, "build", no_rebuild)
    assert native.library.__wrapped__() is not None


@needs_lib
@pytest.mark.parametrize("seed", range(3))
def test_pack_plan_matches_pack_padded_sequence(seed):
    gen = torch.Generator().manual_seed(seed)
    batch, steps = 7, 9
    lengths = torch.randint(1, steps + 1, (batch,), generator=gen)
    x = torch.randn(batch, steps, 3, generator=gen)
    sizes, index, rows = rnn_native.pack_plan(lengths, steps)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    assert sizes.tolist() == packed.batch_sizes.tolist()
    order = torch.argsort(lengths, descending=True, stable=True)  # ties keep batch order
    start = 0
    for t, size in enumerate(sizes.tolist()):
        assert index[start : start + size].tolist() == (order[:size] * steps + t).tolist()
        start += size
    assert start == len(index) == int(lengths.sum())
    torch.testing.assert_close(x.reshape(-1, 3)[index][rows], x[torch.arange(batch), lengths - 1])


@needs_lib
@pytest.mark.parametrize("lengths", [[0, 3], [4, 6], [-1, 2]])
def test_pack_plan_rejects_lengths_out_of_range(lengths):
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 5\]"):
        rnn_native.pack_plan(torch.tensor(lengths), 5)


@needs_lib
def test_usable_only_for_cpu_float_inputs_and_when_enabled(monkeypatch):
    assert rnn_native.usable(torch.zeros(1, dtype=torch.float32))
    assert rnn_native.usable(torch.zeros(1, dtype=torch.float64))
    assert not rnn_native.usable(torch.zeros(1, dtype=torch.bfloat16))
    assert not rnn_native.usable(torch.zeros(1, device="meta"))
    monkeypatch.setenv(native.ENV_SWITCH, "0")
    assert not rnn_native.usable(torch.zeros(1))


@needs_lib
def test_mismatched_weights_raise_before_any_native_call():
    x, lengths = torch.randn(2, 3, 4), torch.tensor([3, 1])
    wiring = Wiring.chain(MODES["GRU"], [2])
    good = [torch.randn(6, 4), torch.randn(6, 2), torch.randn(6), torch.randn(6)]
    assert rnn_native.run_stack(wiring, x, lengths, good).final.shape == (2, 2)
    for i, bad in enumerate(
        [torch.randn(6, 5), torch.randn(6, 3), torch.randn(5), torch.randn(6, dtype=torch.float64)]
    ):
        weights = list(good)
        weights[i] = bad
        with pytest.raises(ValueError, match=r"layer 0 (w_ih|w_hh|b_ih|b_hh): expected"):
            rnn_native.run_stack(wiring, x, lengths, weights)
    with pytest.raises(ValueError, match="per layer"):
        rnn_native.run_stack(wiring, x, lengths, good[:3])
    with pytest.raises(ValueError, match="layer 0 h0: expected"):
        rnn_native.run_stack(wiring, x, lengths, good, h0=[torch.randn(3, 2)])


def test_wirings():
    gru, lstm = MODES["GRU"], MODES["LSTM"]
    chain = Wiring.chain(gru, [3, 4, 5])
    assert chain.in_begin == (0, 0, 3) and chain.out_begin == 7
    assert [chain.input_width(layer, 16) for layer in range(3)] == [16, 3, 4]
    dag = Wiring.dag(lstm, [3, 4, 5])
    assert dag.in_begin == (0, 0, 0) and dag.out_begin == 7
    assert [dag.input_width(layer, 16) for layer in range(3)] == [16, 3, 7]
    assert Wiring.dag(lstm, [3, 4, 5], all_layers=True).out_begin == 0


@needs_lib
def test_a_permissive_umask_still_gives_a_private_cache(cache, monkeypatch):
    old = os.umask(0o002)
    try:
        assert native.library.__wrapped__() is not None
    finally:
        os.umask(old)
    for path in (cache, native.digest_path(cache)):
        assert native.unsafe_reason(os.stat(path), str(path)) is None

    def no_rebuild(*args):
        raise AssertionError("rebuilt although the cached library matches")

    monkeypatch.setattr(native, "build", no_rebuild)
    assert native.library.__wrapped__() is not None
