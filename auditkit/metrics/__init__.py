"""Explanation-quality metrics of Fel et al. (WACV 2022): pure functions on tensors."""

from auditkit.metrics.fidelity import ScoreDrops, fidelity_subsets, mu_fidelity, score_drops
from auditkit.metrics.robustness import completeness_error, invariance_distance, sensitivity
from auditkit.metrics.spearman import (
    average_ranks,
    constant_maps,
    pairwise_spearman_distance,
    spearman_distance,
)
from auditkit.metrics.stability import RECO_FORMS, balanced_accuracy_curve, mege, reco, reco_auc

__all__ = [
    "RECO_FORMS",
    "ScoreDrops",
    "average_ranks",
    "balanced_accuracy_curve",
    "completeness_error",
    "constant_maps",
    "fidelity_subsets",
    "invariance_distance",
    "mege",
    "mu_fidelity",
    "pairwise_spearman_distance",
    "reco",
    "reco_auc",
    "score_drops",
    "sensitivity",
    "spearman_distance",
]
