"""A pickle reader that can only rebuild numpy arrays, for the CIFAR-10 python batches.

Plain :func:`pickle.load` calls whatever function a file names, so a crafted "data_batch_1" could run any
command. The CIFAR-10 batches only need numpy's array reconstruction, so every other global is refused
with a :class:`DataError` before anything is called.
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

ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 writes bytes this way under pickle protocol 2; it only turns text into bytes.
    ("_codecs", "encode"): codecs.encode,
}
"""The only globals a batch may name: what numpy arrays of the CIFAR-10 batches need."""

_MALFORMED = (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="bytes")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(
                f"{self._path}: refusing to unpickle the global {module}.{name}; a CIFAR-10 batch only "
                "holds numpy arrays, lists and bytes (the file is corrupt or crafted)",
                path=self._path,
                expected="a CIFAR-10 python batch (numpy arrays only)",
            ) from None


def load_numpy_pickle(path: Path) -> Any:
    """Unpickle ``path`` allowing only :data:`ALLOWED_GLOBALS`; Python 2 strings come back as bytes.

    Raises:
        DataError: the file names another global, is truncated or is not a pickle.
    """
    try:
        with open(path, "rb") as f:
            return _NumpyOnlyUnpickler(f, path).load()
    except _MALFORMED as exc:
        raise DataError(
            f"{path}: not a readable pickle (truncated or corrupt): {type(exc).__name__}: {exc}",
            path=path,
            expected="a CIFAR-10 python batch",
        ) from None
