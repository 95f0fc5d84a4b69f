"""IDX files (the MNIST format), raw or gzip-compressed: a checked reader and a writer.

Header: two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions, then one
big-endian uint32 per dimension; the data follow, big-endian. MNIST labels have magic number
2049 (uint8, 1 dimension), images 2051 (uint8, 3 dimensions).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from hiddenstruct.data._files import atomic_write_bytes
from hiddenstruct.errors import DataError

IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_TYPE_CODES = {dtype.newbyteorder(">").str: code for code, dtype in IDX_TYPES.items()}
_TYPE_CODES[np.dtype(np.uint8).str] = 0x08
_TYPE_CODES[np.dtype(np.int8).str] = 0x09


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"IDX file {path} not found") from None
    except OSError as err:
        raise DataError(f"cannot read IDX file {path}: {err.strerror or err}") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"corrupt or truncated gzip file {path}: {err}") from None


def parse_idx(
    data: bytes, source: str = "<bytes>", expected_magic: int | None = None
) -> np.ndarray:
    """Decode IDX bytes into an array (native byte order), checking header, size and magic."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{source} is not an IDX file (bad magic number {data[:4].hex() or 'empty'})"
        )
    type_code, ndim = data[2], data[3]
    magic = (type_code << 8) | ndim
    if expected_magic is not None and magic != expected_magic:
        raise DataError(f"{source}: magic number {magic}, expected {expected_magic}")
    if type_code not in IDX_TYPES:
        raise DataError(f"{source}: unknown IDX type code 0x{type_code:02x}")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(
            f"{source} is truncated: header needs {header_size} bytes, file has {len(data)}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = IDX_TYPES[type_code]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(
            f"{source} is {kind}: shape {shape} needs {expected} bytes, found {len(data)}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)  # writable, native byte order


def read_idx(path: str | Path, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw, detected from the content); DataError names the file."""
    path = Path(path)
    return parse_idx(_read_bytes(path), str(path), expected_magic)


def encode_idx(array: np.ndarray) -> bytes:
    """IDX bytes of ``array`` (uint8, int8, int16, int32, float32 or float64)."""
    array = np.asarray(array)
    big = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    code = _TYPE_CODES.get(big.str)
    if code is None:
        raise DataError(
            f"dtype {array.dtype} cannot be stored in IDX; use one of {sorted(_TYPE_CODES)}"
        )
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=big).tobytes()


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as IDX, gzip-compressed when the name ends in ``.gz`` (or ``compress``)."""
    path = Path(path)
    data = encode_idx(array)
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    return atomic_write_bytes(path, data)
