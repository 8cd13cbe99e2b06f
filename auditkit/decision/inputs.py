"""The decisions asked for, checked before anything is computed or written.

``auditkit explain AUDIT_DIR IMAGE...``: each IMAGE is an image file, a folder of image files (one
decision each, named by the file's stem) or a CSV log with the header ``decision_id,image_path``
(relative paths read from the CSV's folder). :func:`decisions` expands them and checks every id;
:func:`read_image` reads one image as the audit read its images, or refuses it.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from auditkit.errors import DecisionError

if TYPE_CHECKING:
    import torch

    from auditkit.data.preprocess import Resize

MAX_ID_LENGTH = 128
"""The longest decision id: it names the sheet's folder."""
CSV_HEADER = ("decision_id", "image_path")
"""The columns of a CSV log of decisions."""


@dataclass(frozen=True)
class DecisionInput:
    """One decision to explain: its id and the image the deployed model decided on."""

    decision_id: str
    image: Path


def check_decision_id(value: str, where: str = "--decision-id") -> str:
    """``value`` when it can name a sheet's folder: 1 to :data:`MAX_ID_LENGTH` printable characters,
    no ``/`` or ``\\``, not ``.`` or ``..``, not starting with ``.``.

    >>> check_decision_id("case/17")
    Traceback (most recent call last):
    ...
    auditkit.errors.DecisionError: --decision-id: 'case/17' holds '/': a decision id names its sheet's folder
    """
    problem = ""
    bad = next((c for c in value if not c.isprintable()), None)
    if bad is not None:
        problem = f"holds the control character U+{ord(bad):04X}; use printable characters only"
    elif not value or len(value) > MAX_ID_LENGTH:
        problem = f"must have 1 to {MAX_ID_LENGTH} characters, it has {len(value)}"
    elif "/" in value or "\\" in value:
        problem = f"holds {'/' if '/' in value else chr(92)!r}: a decision id names its sheet's folder"
    elif value.startswith("."):
        problem = "starts with '.': a decision id names its sheet's folder, which must not be hidden"
    if problem:
        raise DecisionError(f"{where}: {value!r} {problem}")
    return value


def _image_suffixes() -> tuple[str, ...]:
    from torchvision.datasets.folder import IMG_EXTENSIONS

    return tuple(IMG_EXTENSIONS)


def _from_folder(folder: Path) -> list[DecisionInput]:
    """One decision per image file of ``folder`` (not its sub-folders), named by the file's stem."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.name.lower().endswith(_image_suffixes()))
    if not files:
        raise DecisionError(f"{folder}: the folder holds no image file ({', '.join(_image_suffixes())})")
    return [DecisionInput(check_decision_id(f.stem, str(f)), f) for f in files]


def _from_csv(path: Path) -> list[DecisionInput]:
    """The decisions of a CSV log ``decision_id,image_path``."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DecisionError(f"{path}: not a readable CSV log of decisions: {exc}") from None
    if not rows or tuple(c.strip() for c in rows[0]) != CSV_HEADER:
        raise DecisionError(f"{path}: the first line must be the header {','.join(CSV_HEADER)}")
    found = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            raise DecisionError(f"{path}:{line}: expected 2 columns ({','.join(CSV_HEADER)}), got {len(row)}")
        image = Path(row[1].strip())
        found.append(DecisionInput(check_decision_id(row[0].strip(), f"{path}:{line}"),
                                   image if image.is_absolute() else path.parent / image))
    if not found:
        raise DecisionError(f"{path}: the CSV log lists no decision")
    return found


def decisions(paths: list[Path], decision_id: str | None = None) -> list[DecisionInput]:
    """The decisions ``paths`` name (image files, folders, CSV logs), in order.

    Args:
        decision_id: the id of the one decision a single image file is; default its file's stem.

    Raises:
        DecisionError: a path that does not exist, a folder without images, a malformed CSV log, a
            bad or repeated decision id, ``decision_id`` with more than one image.
    """
    if not paths:
        raise DecisionError("give at least one image, folder of images or CSV log of decisions")
    found: list[DecisionInput] = []
    for path in paths:
        if path.is_dir():
            found += _from_folder(path)
        elif not path.exists():
            raise DecisionError(f"{path}: no such image, folder or CSV log")
        elif path.suffix.lower() == ".csv":
            found += _from_csv(path)
        else:
            found.append(DecisionInput(check_decision_id(path.stem, str(path)), path))
    if decision_id is not None:
        if len(found) != 1 or paths[0].is_dir() or paths[0].suffix.lower() == ".csv":
            raise DecisionError("--decision-id names one decision: give one image file (a CSV log "
                                "names its decisions itself)")
        found = [DecisionInput(check_decision_id(decision_id), found[0].image)]
    seen: dict[str, Path] = {}
    for item in found:
        if item.decision_id in seen:
            raise DecisionError(f"decision id {item.decision_id!r} is given twice ({seen[item.decision_id]} "
                                f"and {item.image}): each decision needs its own id")
        seen[item.decision_id] = item.image
    return found


def read_image(path: Path, shape: tuple[int, ...], resize: Resize) -> tuple[torch.Tensor, str]:
    """The image at ``path`` as the audit read its images (float32 ``[C, H, W]`` in [0, 1]) and the
    SHA-256 of the file's bytes.

    Channels: under ``preprocessing.channels: auto`` the image must have the audited ``C`` (grey
    modes count 1, any other 3); ``grey`` or ``rgb`` converts as the audit did. Size: resized and
    cropped as the audit declared, else it must be the audited ``H x W``.

    Raises:
        DecisionError: not a file, or of another kind than the audited images; DataError: not an
            image PIL can read.
    """
    import numpy as np
    import torch

    from auditkit._tensors import as_float_images
    from auditkit.data._scan import open_image
    from auditkit.data.preprocess import GREY_MODES, resize_crop

    if not path.is_file():
        raise DecisionError(f"{path}: no such image file")
    channels, (height, width) = shape[0], shape[1:]
    with open_image(path) as im:
        own = 1 if im.mode in GREY_MODES else 3
        if resize.channels == "auto" and own != channels:
            raise DecisionError(f"{path}: the image has {own} channel{'s' if own > 1 else ''} (mode "
                                f"{im.mode}), the audited images {channels}: give an image of the "
                                "audited kind")
        try:
            pixels = np.asarray(im.convert("L" if channels == 1 else "RGB"))
        except Exception as exc:  # PIL raises OSError, ValueError, ... on a damaged file
            raise DecisionError(f"{path}: not a readable image: {exc}") from None
    chw = torch.from_numpy((pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)).copy())
    chw = resize_crop(chw, resize)
    if tuple(chw.shape[1:]) != (height, width):
        raise DecisionError(f"{path}: the image is {chw.shape[2]}x{chw.shape[1]} pixels"
                            + (" after the audit's resize" if resize.active else "")
                            + f", the audited images {width}x{height} (width x height)")
    return as_float_images(chw[None])[0], hashlib.sha256(path.read_bytes()).hexdigest()


__all__ = ["CSV_HEADER", "MAX_ID_LENGTH", "DecisionInput", "check_decision_id", "decisions", "read_image"]
