"""Audit policies: the YAML file an operator writes to say what to audit and which thresholds to meet.

:func:`load_policy` reads and checks a policy file into a frozen :class:`Policy`; every problem is a
:class:`~auditkit.errors.PolicyError` naming the file, line and key. :func:`policy_from_dict` reads
the same policy written as a Python dict, its problems naming the key path. :mod:`auditkit.policy.schema`
declares the sections, their allowed values and defaults (the paper's, or the authors' library's with
``profile: authors_library``); :mod:`auditkit.constraints` the allowed-value vocabulary;
:mod:`auditkit.policy.registries` what is checked against the dataset, model and explainer registries,
read on first use, so that importing this package imports no torch.
"""

from auditkit.policy.loader import load_policy, policy_from_dict, policy_sha256
from auditkit.policy.paths import check_paths
from auditkit.policy.schema import (
    METRIC_RANGES,
    PAIR_METRICS,
    PROFILES,
    PROPERTY_METRICS,
    TRANSFORMATIONS,
    AgreementSpec,
    BootstrapSpec,
    CompletenessSpec,
    ConvergenceSpec,
    CrossValidationSpec,
    DatasetSpec,
    DeployedSpec,
    ExplainerSpec,
    InvarianceSpec,
    LabelShufflingSpec,
    MetricsSpec,
    ModelSpec,
    MuFidelitySpec,
    Policy,
    PropertiesSpec,
    RaySpec,
    RequirementSpec,
    RobustnessSpec,
    RunSpec,
    SanitySpec,
    SigningSpec,
    ThresholdSpec,
    TrainingSpec,
    TransformationSpec,
    WeightRandomisationSpec,
    pair_members,
)


def __getattr__(name: str) -> object:
    """The registries' facts (``COMPLETE_EXPLAINERS``, ...), read on first use, as they import torch
    (:data:`~auditkit.policy.registries.FORMER_NAMES`)."""
    from auditkit.policy import registries

    if name in registries.FORMER_NAMES:
        return registries.FORMER_NAMES[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "COMPLETE_EXPLAINERS",
    "DATASET_KINDS",
    "EXPLAINER_NAMES",
    "EXPLAINER_SETTINGS",
    "METRIC_RANGES",
    "PAIR_METRICS",
    "PROFILES",
    "PROPERTY_METRICS",
    "TRANSFORMATIONS",
    "AgreementSpec",
    "BootstrapSpec",
    "CompletenessSpec",
    "ConvergenceSpec",
    "CrossValidationSpec",
    "DatasetSpec",
    "DeployedSpec",
    "ExplainerSpec",
    "InvarianceSpec",
    "LabelShufflingSpec",
    "MetricsSpec",
    "ModelSpec",
    "MuFidelitySpec",
    "Policy",
    "PropertiesSpec",
    "RaySpec",
    "RequirementSpec",
    "RobustnessSpec",
    "RunSpec",
    "SanitySpec",
    "SigningSpec",
    "ThresholdSpec",
    "TrainingSpec",
    "TransformationSpec",
    "WeightRandomisationSpec",
    "check_paths",
    "load_policy",
    "pair_members",
    "policy_from_dict",
    "policy_sha256",
]
