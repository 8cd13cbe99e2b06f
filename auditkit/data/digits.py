"""scikit-learn's bundled 8x8 handwritten digits (no download)."""

from __future__ import annotations

import torch

from auditkit.data.dataset import ImageDataset

DIGITS_SOURCE = "sklearn bundled digits"


def load_digits() -> ImageDataset:
    """The 1,797 UCI optical digits shipped with scikit-learn: float32 ``[1797, 1, 8, 8]``.

    Pixels are counts 0..16 in the source; they are divided by 16 (exact in float32) so that the images lie
    in [0, 1] like every other dataset. Classes are ``"0"`` .. ``"9"``.

    scikit-learn is imported here, when the digits are loaded, and not with the module: importing it
    runs joblib's check that multiprocessing works, which opens POSIX semaphores, and a command that
    only reads a policy (``auditkit validate``) should create nothing.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = torch.from_numpy(bunch.images).to(torch.float32).div_(16.0).unsqueeze(1)
    labels = torch.from_numpy(bunch.target).to(torch.int64)
    classes = tuple(str(name) for name in bunch.target_names)
    return ImageDataset.from_tensors("digits", images, labels, classes, DIGITS_SOURCE)
