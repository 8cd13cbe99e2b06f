"""Audit policies: the YAML file an operator writes to say what to audit and which thresholds to meet.

:func:`load_policy` reads and checks a policy file into a frozen :class:`Policy`; every problem is a
:class:`~auditkit.errors.PolicyError` naming the file, line and key. :mod:`auditkit.policy.schema`
declares the sections, their allowed values and defaults (the paper's, or the authors' library's with
``profile: authors_library``); :mod:`auditkit.policy.constraints` the allowed-value vocabulary.
"""

from auditkit.policy.loader import check_paths, load_policy, policy_sha256
from auditkit.policy.schema import (
    DATASET_KINDS,
    EXPLAINER_NAMES,
    EXPLAINER_SETTINGS,
    METRIC_RANGES,
    PROFILES,
    BootstrapSpec,
    CrossValidationSpec,
    DatasetSpec,
    ExplainerSpec,
    LabelShufflingSpec,
    MetricsSpec,
    ModelSpec,
    MuFidelitySpec,
    Policy,
    RequirementSpec,
    RunSpec,
    SanitySpec,
    ThresholdSpec,
    TrainingSpec,
    WeightRandomisationSpec,
)

__all__ = [
    "DATASET_KINDS",
    "EXPLAINER_NAMES",
    "EXPLAINER_SETTINGS",
    "METRIC_RANGES",
    "PROFILES",
    "BootstrapSpec",
    "CrossValidationSpec",
    "DatasetSpec",
    "ExplainerSpec",
    "LabelShufflingSpec",
    "MetricsSpec",
    "ModelSpec",
    "MuFidelitySpec",
    "Policy",
    "RequirementSpec",
    "RunSpec",
    "SanitySpec",
    "ThresholdSpec",
    "TrainingSpec",
    "WeightRandomisationSpec",
    "check_paths",
    "load_policy",
    "policy_sha256",
]
