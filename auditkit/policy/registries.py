"""What a policy is checked against that belongs to auditkit's registries, read on first use.

The dataset kinds and splits (:mod:`auditkit.data.load`), the channel modes
(:mod:`auditkit.data.preprocess`), the model families (:mod:`auditkit.models.registry`) and each
explainer's settings (declared by its class, :mod:`auditkit.explainers.registry`) live with code that
imports torch. The schema names them through these functions (as
:class:`~auditkit.constraints.Deferred` constraints where a key is checked against them), so that
importing the schema imports no torch and the loader's reading on paper reports a typo at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from auditkit.constraints import Constraint, Nullable, Options, Setting


def dataset_kind_options() -> Constraint:
    """``dataset.kind``: one of :data:`auditkit.data.load.DATASET_KINDS`."""
    from auditkit.data.load import DATASET_KINDS

    return Options(DATASET_KINDS)


def dataset_splits(kind: str) -> tuple[str, ...]:
    """The splits dataset ``kind`` has (:data:`auditkit.data.load.SPLITS`)."""
    from auditkit.data.load import SPLITS

    return SPLITS[kind]


def in_memory_kind() -> str:
    """The kind of images passed from Python (:data:`auditkit.data.load.IN_MEMORY`)."""
    from auditkit.data.load import IN_MEMORY

    return IN_MEMORY


def channel_options() -> Constraint:
    """``preprocessing.channels``: one of :data:`auditkit.data.preprocess.CHANNELS`."""
    from auditkit.data.preprocess import CHANNELS

    return Options(CHANNELS)


def model_family_options() -> Constraint:
    """``model.family``: ``null`` or one of :data:`auditkit.models.registry.MODEL_FAMILIES`."""
    from auditkit.models.registry import MODEL_FAMILIES

    return Nullable(Options(MODEL_FAMILIES))


@functools.cache
def explainer_settings() -> Mapping[str, Mapping[str, Setting]]:
    """Each explainer's settings (name -> setting -> :class:`~auditkit.constraints.Setting`), as the
    explainer class declares them (:func:`~auditkit.explainers.registry.declared_settings`), in the
    registry's order."""
    from auditkit.explainers.registry import EXPLAINERS, declared_settings

    return MappingProxyType({name: MappingProxyType(declared_settings(cls))
                             for name, cls in EXPLAINERS.items()})


def explainer_name_options() -> Constraint:
    """An explainer's ``name``: one of :func:`explainer_settings`."""
    return Options(tuple(explainer_settings()))


@functools.cache
def complete_explainers() -> frozenset[str]:
    """Explainers that claim completeness (their maps sum to ``f_c(x) - f_c(baseline)``, declared by
    ``Explainer.completeness_baseline``); the others have no completeness score."""
    from auditkit.explainers.registry import EXPLAINERS

    return frozenset(name for name, cls in EXPLAINERS.items() if cls.completeness_baseline is not None)


@functools.cache
def control_explainers() -> frozenset[str]:
    """Explainers that are controls (``Explainer.control``: ``random``, ``input``), not methods under
    audit."""
    from auditkit.explainers.registry import EXPLAINERS

    return frozenset(name for name, cls in EXPLAINERS.items() if cls.control)


FORMER_NAMES: Mapping[str, Callable[[], Any]] = MappingProxyType({
    "DATASET_KINDS": lambda: dataset_kind_options().values,
    "EXPLAINER_SETTINGS": explainer_settings,
    "EXPLAINER_NAMES": lambda: tuple(explainer_settings()),
    "COMPLETE_EXPLAINERS": complete_explainers,
})
"""The constants :mod:`auditkit.policy` and its schema used to define at import, each still read
under its name (PEP 562 ``__getattr__``), now on first use."""
