"""A pickle reader that can only rebuild numpy arrays, for the CIFAR-10 python batches.

Plain :func:`pickle.load` calls whatever function a file names, so a crafted "data_batch_1" could run any
command. The CIFAR-10 batches only need numpy's array reconstruction, so every other global is refused
with a :class:`DataError` before anything is called. Every array's size is checked against a limit
the caller gives, and its bytes against its shape and dtype, before numpy allocates it, so a crafted
header cannot ask for 10^15 elements.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from auditkit.errors import DataError

# ``_reconstruct`` lives in numpy.core.multiarray (numpy 1) or numpy._core.multiarray (numpy 2, which keeps
# the old name importable for old pickles). ``ndarray.__reduce__`` returns it without importing either.
_RECONSTRUCT = np.empty(0).__reduce__()[0]

ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    # Python 3 writes bytes this way under pickle protocol 2; it only turns text into bytes.
    ("_codecs", "encode"),
})
"""The only globals a batch may name: what numpy arrays of the CIFAR-10 batches need."""


class _TooLarge(Exception):
    """An array whose declared size exceeds the limit or does not match its bytes."""


def _elements(shape: Any, limit: int) -> int:
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise _TooLarge(f"an array of shape {shape!r}")
    n = 1
    for d in shape:
        n *= d
        if n > limit:
            raise _TooLarge(f"an array of shape {shape} ({n:,}+ elements, more than the {limit:,} expected)")
    return n


def _checked_array(limit: int) -> type[np.ndarray]:
    """An ``ndarray`` subclass whose unpickling checks size, dtype and bytes before numpy allocates."""

    class CheckedArray(np.ndarray):
        def __setstate__(self, state: Any) -> None:
            shape, dtype, raw = (state[-4], state[-3], state[-1]) if isinstance(state, tuple) \
                and len(state) in (4, 5) else (None, None, None)
            if not isinstance(dtype, np.dtype) or dtype.hasobject:
                raise _TooLarge("an array that is not a plain numeric array")
            n = _elements(shape, limit)
            if not isinstance(raw, bytes) or len(raw) != n * dtype.itemsize:
                got = len(raw) if isinstance(raw, bytes) else type(raw).__name__
                raise _TooLarge(f"an array of shape {shape} {dtype} with {got} bytes of data")
            super().__setstate__(state)

    return CheckedArray


def _globals(limit: int) -> dict[tuple[str, str], Any]:
    checked = _checked_array(limit)

    def reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        _elements(shape if isinstance(shape, tuple) else (shape,), limit)
        return _RECONSTRUCT(checked, shape, dtype)

    found = {"_reconstruct": reconstruct, "ndarray": checked, "dtype": np.dtype, "encode": codecs.encode}
    return {key: found[key[1]] for key in ALLOWED_GLOBALS}

_MALFORMED = (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, path: Path, max_elements: int) -> None:
        super().__init__(file, encoding="bytes")
        self._path = path
        self._globals = _globals(max_elements)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._globals[(module, name)]
        except KeyError:
            raise DataError(
                f"{self._path}: refusing to unpickle the global {module}.{name}; a CIFAR-10 batch only "
                "holds numpy arrays, lists and bytes (the file is corrupt or crafted)",
                path=self._path,
                expected="a CIFAR-10 python batch (numpy arrays only)",
            ) from None


def load_numpy_pickle(path: Path, max_elements: int) -> Any:
    """Unpickle ``path`` allowing only :data:`ALLOWED_GLOBALS`; Python 2 strings come back as bytes.

    Arrays come back as plain ``np.ndarray``, each of at most ``max_elements`` elements.

    Raises:
        DataError: the file names another global, declares a larger array (or one whose bytes do not
            match its shape), is truncated or is not a pickle.
    """
    try:
        with open(path, "rb") as f:
            return _plain(_NumpyOnlyUnpickler(f, path, max_elements).load())
    except _TooLarge as exc:
        raise DataError(f"{path}: refusing {exc}; not a CIFAR-10 python batch (corrupt or crafted)",
                        path=path, expected=f"arrays of at most {max_elements:,} elements") from None
    except _MALFORMED as exc:
        raise DataError(
            f"{path}: not a readable pickle (truncated or corrupt): {type(exc).__name__}: {exc}",
            path=path,
            expected="a CIFAR-10 python batch",
        ) from None


def _plain(obj: Any) -> Any:
    """``obj`` with every checked array viewed as a plain ``np.ndarray`` (in dicts and lists)."""
    if isinstance(obj, np.ndarray):
        return obj.view(np.ndarray)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj
