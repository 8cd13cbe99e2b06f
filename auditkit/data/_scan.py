"""What a class-folder tree holds, read defensively: which entries are images, and opening one.

:func:`image_files` lists a tree the way torchvision's ``ImageFolder`` does (sorted class folders,
files with ``IMG_EXTENSIONS``, in ``sorted(os.walk(...))`` order) but reads only regular files and
folders: hidden entries, FIFOs, sockets, devices, broken links and linked folders already read are
skipped and counted in one warning. :func:`open_image` refuses an image above :data:`MAX_PIXELS`
before decoding it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from auditkit.errors import DataError

logger = logging.getLogger(__name__)

MAX_PIXELS = 89_478_485
"""Largest image read, in pixels (width x height): PIL's default ``Image.MAX_IMAGE_PIXELS``
(1 GiB / 4 / 3, about 256 MiB decoded as RGB), applied whatever that global is set to. PIL's own
check (a warning above it, an error above twice it) is turned into this error too."""


@dataclass
class _Skipped:
    """Entries of a tree that were not read, by reason (paths, in the order met)."""

    hidden: list[str] = field(default_factory=list)
    special: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)

    def line(self, folder: Path) -> str:
        parts = [f"{len(paths)} {what} (e.g. {paths[0]})" for paths, what in (
            (self.hidden, "hidden entries: names starting with '.'"),
            (self.special, "entries that are not regular files or folders: FIFOs, sockets, devices, "
                           "broken links"),
            (self.repeated, "linked folders already read: a loop, or a second path to the same images"),
        ) if paths]
        return f"{folder}: skipped " + "; ".join(parts) if parts else ""


def image_files(folder: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class names and ``(file, label)`` of a class-folder tree.

    Classes are the sorted names of ``folder``'s sub-folders (label = position); files are those
    below each class folder whose name ends with one of torchvision's ``IMG_EXTENSIONS`` (any case),
    ordered as ``sorted(os.walk(class_folder))`` lists them. Only regular files and folders are read:

    - hidden entries (a name starting with ``.``: ``.ipynb_checkpoints``, ``.DS_Store``) are skipped;
    - FIFOs, sockets, devices and broken links are skipped (opening a FIFO would block);
    - a symbolic link to a file is read as the file; a symbolic link to a folder is followed unless
      that folder is already read from elsewhere in the tree: one of the class folders, a folder above
      the link (a loop) or one reached before (its images would count twice).

    What was skipped is said in one warning of the ``auditkit.data._scan`` logger, with the counts.

    Raises:
        DataError: not a folder of class sub-folders, a class folder without images, or a folder
            that cannot be listed.
    """
    from torchvision.datasets.folder import IMG_EXTENSIONS

    if not folder.is_dir():
        raise DataError(f"image folder {folder} not found: expected one sub-folder per class holding "
                        "image files", path=folder, expected="a folder of class sub-folders of images")
    skipped = _Skipped()
    class_dirs = [e for e in _entries(folder, skipped) if e.is_dir()]
    if not class_dirs:
        raise DataError(f"{folder} has no class sub-folders: expected one sub-folder per class",
                        path=folder, expected="one sub-folder per class")
    seen = {os.path.realpath(folder), *(os.path.realpath(e.path) for e in class_dirs)}
    samples: list[tuple[Path, int]] = []
    for label, entry in enumerate(class_dirs):
        found: list[tuple[str, list[str]]] = []
        _walk(entry.path, seen, skipped, found)
        files = [(Path(os.path.join(root, name)), label) for root, names in sorted(found)
                 for name in names if name.lower().endswith(IMG_EXTENSIONS)]
        if not files:
            raise DataError(f"{folder}: class folder {entry.name} holds no image file",
                            path=Path(entry.path),
                            expected=f"image files ({', '.join(IMG_EXTENSIONS)}) in every class folder")
        samples += files
    line = skipped.line(folder)
    if line:
        logger.warning(line)
    return [e.name for e in class_dirs], samples


def _entries(folder: Path | str, skipped: _Skipped) -> list[os.DirEntry[str]]:
    """The entries of ``folder`` that are regular files or folders (links followed), sorted by name."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"{folder}: cannot be listed ({exc.strerror or exc})", path=folder,
                        expected="a readable folder") from None
    kept = []
    for entry in entries:
        if entry.name.startswith("."):
            skipped.hidden.append(entry.path)
            continue
        try:
            mode = entry.stat().st_mode  # follows a link
        except OSError:  # a broken link, or one that loops on itself
            skipped.special.append(entry.path)
            continue
        if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
            kept.append(entry)
        else:
            skipped.special.append(entry.path)
    return kept


def _walk(path: str, seen: set[str], skipped: _Skipped, found: list[tuple[str, list[str]]]) -> None:
    """Append ``(folder, sorted file names)`` of ``path`` and of its sub-folders not yet ``seen``."""
    entries = _entries(path, skipped)
    found.append((path, [e.name for e in entries if not e.is_dir()]))
    for entry in entries:
        if not entry.is_dir():
            continue
        real = os.path.realpath(entry.path)
        if real in seen:
            skipped.repeated.append(entry.path)
            continue
        seen.add(real)
        _walk(entry.path, seen, skipped, found)


@contextlib.contextmanager
def open_image(file: Path) -> Iterator[Image.Image]:
    """``Image.open(file)`` (lazily: header only), refused above :data:`MAX_PIXELS`.

    Raises:
        DataError: not an image PIL can open, or more pixels than :data:`MAX_PIXELS`; names the file.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(file)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _too_large(file, None) from None
    except Exception as exc:  # PIL raises OSError, ValueError, SyntaxError ... on damaged files
        raise DataError(f"{file}: not a readable image: {exc}", path=file,
                        expected="an image file PIL can open") from None
    with im:
        if im.size[0] * im.size[1] > MAX_PIXELS:
            raise _too_large(file, im.size)
        yield im


def _too_large(file: Path, size: tuple[int, int] | None) -> DataError:
    shown = f"{size[0]}x{size[1]} pixels" if size else "more pixels than PIL's limit"
    return DataError(f"{file}: {shown}, above the {MAX_PIXELS:,} pixels auditkit reads per image (a "
                     "decompression bomb, or an image to downscale before the audit)", path=file,
                     expected=f"an image of at most {MAX_PIXELS:,} pixels")
