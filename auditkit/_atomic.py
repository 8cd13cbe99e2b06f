"""Atomic file writes: a temporary file in the target's folder, flushed, then renamed over it.

A reader (or a crash) never sees a half-written file: the target is either the old complete file or
the new complete one. With ``replace=False`` an existing target is never replaced: the finished
temporary file is hard-linked to the target's name, which fails (:class:`FileExistsError`) where the
name is taken, and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def _replacing(path: Path, mode: str, replace: bool = True) -> Iterator[IO[Any]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the name is taken, where os.replace would overwrite
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with _replacing(Path(path), "wb") as handle:
        handle.write(data)


def write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_with(path: str | Path, writer: Callable[[IO[bytes]], None], *, replace: bool = True) -> None:
    """Let ``writer`` fill a binary handle, then move the result to ``path`` atomically (``replace``:
    over an existing file; else :class:`FileExistsError` when there is one)."""
    with _replacing(Path(path), "wb", replace) as handle:
        writer(handle)


def torch_save(obj: Any, path: str | Path, *, replace: bool = True) -> None:
    """``torch.save(obj)`` to ``path`` atomically, ``replace`` as :func:`write_with` (torch imported
    here: the CLI, the history and the signing code use this module and must not load torch before
    the run lock is held)."""
    import torch

    write_with(path, lambda handle: torch.save(obj, handle), replace=replace)
