"""Image datasets for the audit: loaders for each supported format, subsampling and k-fold splits.

Every loader returns an :class:`ImageDataset` held in memory with a SHA-256 fingerprint of its content, so
the report can name exactly what was audited. Nothing is downloaded.
"""

from auditkit.data.dataset import ImageDataset
from auditkit.data.errors import DatasetArgumentError, DatasetKindError
from auditkit.data.folds import make_folds
from auditkit.data.load import DATASET_KINDS, load_dataset
from auditkit.data.preprocess import MixedSizesError, Resize, dataset_shape, resize_crop

__all__ = [
    "DATASET_KINDS",
    "DatasetArgumentError",
    "DatasetKindError",
    "ImageDataset",
    "MixedSizesError",
    "Resize",
    "dataset_shape",
    "load_dataset",
    "make_folds",
    "resize_crop",
]
