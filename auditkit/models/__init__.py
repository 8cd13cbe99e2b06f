"""Classifiers audited by auditkit: three families, the operator's own (torchvision or a factory,
:mod:`auditkit.models.operator`), seeded training, inference and checkpoints.

Families (Fel et al., WACV 2022, appendix E): ``small_cnn`` (a fast network for small images),
``resnet18`` (the paper's main predictor, variable width) and ``lipschitz_cnn`` (the 1-Lipschitz
network of Table 4, with ``deel.torchlip``). ``ResNet18`` is imported when first asked for: it
builds on torchvision's blocks, and importing torchvision costs seconds that a small_cnn audit, a
``train`` or an ``explain`` need not pay.
"""

from typing import Any

from auditkit.models.checkpoint import load_checkpoint, save_checkpoint
from auditkit.models.errors import CheckpointError, ModelError
from auditkit.models.inference import accuracy, predict
from auditkit.models.layers import LayerChoice, choose_layer, last_conv_name
from auditkit.models.lipschitz import LipschitzCNN
from auditkit.models.operator import (
    AuditedModel,
    build_torchvision,
    check_signature,
    import_callable,
    load_init_weights,
    resolve_layer,
    source_record,
    torchvision_models,
)
from auditkit.models.registry import MODEL_FAMILIES, build_model
from auditkit.models.small_cnn import SmallCNN
from auditkit.models.training import (
    OPTIMIZERS,
    SCHEDULES,
    SMALL_CNN_DIGITS_TRAINING,
    TrainingConfig,
    train_model,
)

__all__ = [
    "MODEL_FAMILIES",
    "OPTIMIZERS",
    "SCHEDULES",
    "SMALL_CNN_DIGITS_TRAINING",
    "AuditedModel",
    "CheckpointError",
    "LayerChoice",
    "LipschitzCNN",
    "ModelError",
    "ResNet18",
    "SmallCNN",
    "TrainingConfig",
    "accuracy",
    "build_model",
    "build_torchvision",
    "check_signature",
    "choose_layer",
    "import_callable",
    "last_conv_name",
    "load_checkpoint",
    "load_init_weights",
    "predict",
    "resolve_layer",
    "save_checkpoint",
    "source_record",
    "torchvision_models",
    "train_model",
]


def __getattr__(name: str) -> Any:
    """``ResNet18``, imported on first use (module docstring)."""
    if name == "ResNet18":
        from auditkit.models.resnet import ResNet18

        return ResNet18
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
