"""hiddenstruct's C++ kernels (``native.cpp``): built on first use, cached, loaded safely.

The source is compiled with the system C++ compiler (``$CXX``, else ``c++``, ``g++`` or
``clang++``; about 4–5 s on 2 cores) into a private cache directory (``$HIDDENSTRUCT_CACHE``,
else ``$XDG_CACHE_HOME/hiddenstruct`` or ``~/.cache/hiddenstruct``), keyed by the source,
the flags, the compiler, the CPU and PyTorch's version, so a machine builds it once. The
kernels are called through ctypes: a ``torch.utils.cpp_extension`` build of even an empty
custom op takes about 20 s here (PyTorch's headers), ten times this one.

The cache cannot be hijacked: the directory is created ``0700``; the loader refuses a
directory or file that someone else owns or that others may write (and then falls back
with one warning), and it loads a library only if the SHA-256 of its bytes equals the
digest its build wrote next to it (``<name>.so.sha256``); otherwise it rebuilds. The
verified bytes are the ones loaded (copied to a fresh private file that is removed once
loaded), and a library is bound only after its ABI version and entry points check out and its BLAS
products match plain loops (``hs_check_blas``). No compiler, a failed build, an unusable
BLAS or ``HIDDENSTRUCT_NATIVE=0`` mean PyTorch's own kernels run instead.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("native.cpp")
FLAGS = (
    "-O3",
    "-march=native",
    "-fno-trapping-math",  # lets the float exp loops vectorize; no FP exceptions are used
    "-fno-math-errno",
    "-std=c++17",
    "-fPIC",
    "-shared",
)
ABI_VERSION = 7
"""Must equal ``hs_abi_version()`` of the built library."""
_I64, _PTR, _INT = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
_STACK = [_INT, _INT, _I64, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, _PTR, _PTR, _PTR]
SIGNATURES = {  # every entry point: (argument types, result type)
    "hs_abi_version": ([], _INT),
    "hs_set_blas": ([_PTR, _PTR], None),
    "hs_check_blas": ([], _INT),
    "hs_stack_saved_size": ([_INT, _I64, _PTR, _I64, _I64, _I64], _I64),
    "hs_stack_forward": (_STACK + [_PTR] * 8, None),
    "hs_stack_backward": (_STACK + [_PTR] * 9, None),
    "hs_csr_chain": ([_INT, _INT, _I64, *[_PTR] * 5, _I64, _PTR, _PTR], None),
}
ENV_SWITCH = "HIDDENSTRUCT_NATIVE"
ENV_CACHE = "HIDDENSTRUCT_CACHE"

log = logging.getLogger(__name__)


def enabled() -> bool:
    """Whether the native kernels may be used (``HIDDENSTRUCT_NATIVE`` is not ``0``)."""
    return os.environ.get(ENV_SWITCH, "1") != "0"


def cache_dir() -> Path:
    """The kernel cache directory (see the module docstring)."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hiddenstruct"


def _compiler() -> str | None:
    if os.environ.get("CXX"):
        return shutil.which(os.environ["CXX"])
    return next(filter(None, map(shutil.which, ("c++", "g++", "clang++"))), None)


def _cpu_signature() -> str:
    """What ``-march=native`` depends on: the CPU's feature flags where Linux shows them."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def library_path(compiler: str) -> Path:
    """Where the build for this source, compiler, CPU and PyTorch lives in the cache."""
    key = hashlib.sha256()
    parts = (SOURCE.read_bytes(), " ".join(FLAGS), compiler, _cpu_signature(), torch.__version__)
    for part in parts:
        key.update(part if isinstance(part, bytes) else part.encode())
    return cache_dir() / f"native-{key.hexdigest()[:16]}.so"


def digest_path(library: Path) -> Path:
    """Where the build records the SHA-256 of ``library``'s bytes."""
    return library.with_name(library.name + ".sha256")


def unsafe_reason(info: os.stat_result, what: str) -> str | None:
    """Why a cache entry with status ``info`` must not be trusted, or ``None``."""
    if info.st_uid != os.getuid():
        return f"{what} is owned by user {info.st_uid}, not by you ({os.getuid()})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{what} is writable by others (mode {stat.filemode(info.st_mode)})"
    return None


def private_dir() -> Path:
    """The cache directory, created ``0700``; ``RuntimeError`` if it is not safe to use."""
    directory = cache_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    reason = unsafe_reason(os.stat(directory), f"the cache directory {directory}")
    if reason:
        raise RuntimeError(reason)
    return directory


def build(compiler: str, target: Path) -> bytes:
    """Compile the source into ``target`` (atomically) and record its digest; returns the
    built bytes. ``RuntimeError`` when the build fails."""
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent, prefix=".tmp-")
    os.close(fd)
    try:
        started = time.perf_counter()
        done = subprocess.run(
            [compiler, *FLAGS, str(SOURCE), "-o", tmp], capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"{compiler} failed: {done.stderr.strip()[-2000:]}")
        os.chmod(tmp, 0o600)  # the linker may have made it anew, under the umask
        data = Path(tmp).read_bytes()
        fd = os.open(tmp + ".sha256", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as record:
            record.write(hashlib.sha256(data).hexdigest())
        os.replace(tmp, target)
        os.replace(tmp + ".sha256", digest_path(target))
        log.info("built %s in %.1f s", target, time.perf_counter() - started)
        return data
    finally:
        for leftover in (tmp, tmp + ".sha256"):
            if os.path.exists(leftover):
                os.unlink(leftover)


def open_verified(target: Path) -> tuple[bytes | None, str]:
    """The bytes of ``target`` if it is private and they match the recorded digest, else
    ``(None, why not)``."""
    try:
        fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as err:
        return None, f"cannot open {target}: {err.strerror}"
    try:
        with os.fdopen(fd, "rb") as file:
            reason = unsafe_reason(os.fstat(fd), str(target))
            record = digest_path(target)
            if reason is None and not record.is_file():
                reason = f"{target} has no recorded digest"
            if reason is None:
                reason = unsafe_reason(os.stat(record), str(record))
            if reason is None:
                data = file.read()
                if hashlib.sha256(data).hexdigest() == record.read_text().strip():
                    return data, ""
                reason = f"{target}'s bytes do not match its recorded digest"
    except OSError as err:
        reason = f"cannot read {target}: {err.strerror}"
    return None, reason


def _blas_symbols() -> tuple[int | None, int | None]:
    """Addresses of ``sgemm_`` and ``dgemm_`` in PyTorch's own CPU library, if it exports them."""
    found: list[int | None] = [None, None]
    for path in sorted((Path(torch.__file__).parent / "lib").glob("libtorch_cpu.*")):
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        for i, name in enumerate(("sgemm_", "dgemm_")):
            if found[i] is None and hasattr(lib, name):
                found[i] = ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
    return found[0], found[1]


def _load(data: bytes, directory: Path) -> ctypes.CDLL:
    """``dlopen`` exactly ``data`` (verified bytes), from a fresh file under a unique name."""
    fd, path = tempfile.mkstemp(suffix=".so", dir=directory, prefix=".load-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return ctypes.CDLL(path)
    finally:
        os.unlink(path)


def bind(lib: ctypes.CDLL, sgemm: int, dgemm: int) -> str | None:
    """Check a loaded library and hand it the BLAS; why it is unusable, or ``None``."""
    missing = [name for name in SIGNATURES if not hasattr(lib, name)]
    if missing:
        return f"the library lacks {', '.join(missing)}"
    for name, (arguments, result) in SIGNATURES.items():
        getattr(lib, name).argtypes, getattr(lib, name).restype = arguments, result
    if lib.hs_abi_version() != ABI_VERSION:
        return f"the library has ABI {lib.hs_abi_version()}, not {ABI_VERSION}"
    lib.hs_set_blas(sgemm, dgemm)
    if lib.hs_check_blas() != 1:
        return "PyTorch's sgemm_/dgemm_ gave wrong products (an unexpected BLAS interface)"
    return None


def _fallback(reason: str) -> None:
    warnings.warn(
        f"hiddenstruct: not using the native kernels ({reason}); PyTorch's kernels run "
        f"instead. Set {ENV_SWITCH}=0 to skip them, point CXX at a working C++ compiler or "
        f"{ENV_CACHE} at a private, writable directory.",
        RuntimeWarning,
        stacklevel=3,
    )


@functools.cache
def library() -> ctypes.CDLL | None:
    """The loaded kernels, or ``None`` (no compiler is silent; anything else warns once)."""
    compiler = _compiler()
    if compiler is None:
        log.info("no C++ compiler found: PyTorch's kernels run instead of the native ones")
        return None
    sgemm, dgemm = _blas_symbols()
    if sgemm is None or dgemm is None or sys.byteorder != "little":
        _fallback("PyTorch's library exports no sgemm_/dgemm_ on a little-endian machine")
        return None
    try:
        directory = private_dir()
        target = library_path(compiler)
        data, reason = open_verified(target)
        if data is None:
            if target.exists():
                warnings.warn(
                    f"hiddenstruct: rebuilding the native kernels: {reason}", stacklevel=2
                )
            data = build(compiler, target)
        lib = _load(data, directory)
        problem = bind(lib, sgemm, dgemm)
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        problem = str(err)
    if problem:
        _fallback(problem)
        return None
    return lib
