"""Work keys are derived from whole policy sections (:func:`~auditkit.engine.keys.keyed_settings`).

Every field of every section reachable from :class:`~auditkit.policy.Policy` is either in some work
key or declared key-neutral beside it (``key_neutral`` in :mod:`auditkit.policy.schema`); a field
added without that decision fails :func:`test_every_policy_field_is_keyed_or_declared_key_neutral`.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from auditkit.engine import keys
from auditkit.engine.crosstrain import FoldModel, fold_key
from auditkit.engine.explain import explainer_key, properties_key
from auditkit.engine.sanity import _randomised
from auditkit.engine.timing import Timings
from auditkit.policy import Policy, TransformationSpec, policy_from_dict
from auditkit.policy.schema import NormalizeSpec

KEY_MODULES = {"auditkit.engine.keys", "auditkit.engine.crosstrain", "auditkit.engine.explain",
               "auditkit.engine.sanity"}
"""Modules that build work keys from policy sections; :func:`all_keys` calls each of their keys."""

POLICY = {
    "version": 1,
    "name": "keys",
    "dataset": {"kind": "digits", "max_images": 100},
    "explainers": [{"name": "saliency"}, {"name": "integrated_gradients", "steps": 20}],
    "thresholds": [{"id": "T1", "metric": "mege", "op": ">=", "value": 0.1}],
    "requirements": [{"id": "R1", "title": "r", "evidence": ["T1"]}],
}


def _policy() -> Policy:
    return policy_from_dict(POLICY)


def _sections(cls: type) -> Iterator[tuple[str, type]]:
    """``(name, section class)`` of each field of ``cls`` holding a section or a tuple of them."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        args = [a for a in typing.get_args(kind) if a is not Ellipsis]
        if dataclasses.is_dataclass(kind):
            yield f.name, kind
        elif typing.get_origin(kind) is tuple and len(args) == 1 and dataclasses.is_dataclass(args[0]):
            yield f.name, args[0]


def _leaves(cls: type = Policy, path: str = "") -> Iterator[tuple[type, str, str]]:
    """``(section class, field, dotted path)`` of every field that is not itself a section."""
    sections = dict(_sections(cls))
    for f in dataclasses.fields(cls):
        dotted = f"{path}{f.name}"
        if f.name in sections:
            yield from _leaves(sections[f.name], dotted + ".")
        else:
            yield cls, f.name, dotted


def all_keys(policy: Policy, spec_index: int = 1) -> dict[str, Any]:
    """Every work key this policy gives, by kind, for fixed inputs (images, labels, models)."""
    spec = policy.explainers[spec_index]
    images = torch.rand(12, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    dataset = SimpleNamespace(fingerprint="images", images=images, labels=torch.arange(12) % 3)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(72, 3)).eval()
    fold = FoldModel(0, model, 1.0, 12, "checkpoint", False)
    ctx = SimpleNamespace(policy=policy, dataset=dataset, folds_idx=[torch.arange(12)],
                          device=torch.device("cpu"), timings=Timings())
    return {
        "fold": fold_key(policy, dataset, 0, "labels"),  # type: ignore[arg-type]
        "explanation": explainer_key(spec, ["checkpoint"], policy, "images"),
        "properties": properties_key(spec, ["checkpoint"], policy, "images"),
        "weight_randomisation": _randomised(ctx, [fold], 0, 0.1).ids,  # type: ignore[arg-type]
    }


def _replaced(policy: Policy, dotted: str, value: Any) -> Policy:
    """``policy`` with the field at ``dotted`` (``metrics.mu_fidelity.samples``) set to ``value``."""
    head, _, rest = dotted.partition(".")
    if not rest:
        return dataclasses.replace(policy, **{head: value})
    return dataclasses.replace(policy, **{head: _replaced(getattr(policy, head), rest, value)})


def test_every_policy_field_is_keyed_or_declared_key_neutral(monkeypatch: pytest.MonkeyPatch) -> None:
    real = keys.keyed_settings
    keyed: set[tuple[type, str]] = set()

    def spy(section: Any, without: Any = ()) -> dict[str, Any]:
        out = real(section, without)
        keyed.update((type(section), name) for name in (*out, *without))  # `without`: decided there
        return out

    users = {name for name, module in list(sys.modules.items())
             if name.startswith("auditkit.") and vars(module).get("keyed_settings") is real}
    assert users == KEY_MODULES, "a module builds work keys that all_keys does not call: add it there"
    for name in users:
        monkeypatch.setattr(sys.modules[name], "keyed_settings", spy)
    all_keys(_policy())
    undecided = [dotted for cls, name, dotted in _leaves()
                 if (cls, name) not in keyed and name not in getattr(cls, "key_neutral", {})]
    assert not undecided, (f"{', '.join(undecided)}: in no work key and not declared key-neutral; "
                           "declare it in its section's key_neutral (auditkit/policy/schema.py) if it "
                           "cannot change stored work, else key the work that reads it")


def test_key_neutral_declarations_name_fields_and_give_a_reason() -> None:
    classes = {cls for cls, _, _ in _leaves()}
    assert len(classes) > 20
    for cls in classes:
        neutral = getattr(cls, "key_neutral", {})
        names = {f.name for f in dataclasses.fields(cls)}
        assert set(neutral) <= names, f"{cls.__name__}.key_neutral names {set(neutral) - names}"
        assert all(isinstance(why, str) and why for why in neutral.values()), cls


@pytest.mark.parametrize(("dotted", "value", "changed"), [
    ("training.epochs", 3, {"fold"}),
    ("training.seed", 1, {"fold"}),
    ("training.mixed_precision", "bf16", {"fold"}),
    ("model.dropout", 0.5, {"fold", "explanation", "properties"}),
    ("model.target_layer", "net.conv2", {"fold", "explanation", "properties"}),
    ("preprocessing.normalize", NormalizeSpec(mean=(0.5,), std=(0.25,)),
     {"fold", "explanation", "properties"}),
    ("cross_validation.seed", 1, {"fold", "explanation", "properties"}),
    ("cross_validation.k", 3, {"fold", "explanation", "properties"}),
    ("run.deterministic", False, {"fold", "explanation", "properties"}),
    ("metrics.distance", "sqrt_spearman", {"explanation"}),
    ("metrics.mu_fidelity.n_subsets", 64, {"explanation"}),
    ("metrics.mu_fidelity.baseline", 0.5, {"explanation"}),
    ("metrics.target", "label", {"explanation", "properties"}),
    ("metrics.explain_batch_size", 32, {"explanation", "properties"}),
    ("properties.robustness.radius", 0.05, {"properties"}),
    ("properties.completeness.enabled", False, {"properties"}),
    ("properties.invariance.transformations", (TransformationSpec(name="hflip"),), {"properties"}),
    ("sanity_checks.weight_randomisation.std", 0.25, {"weight_randomisation"}),
    ("sanity_checks.weight_randomisation.scale", "relative", {"weight_randomisation"}),
    ("sanity_checks.weight_randomisation.seed", 7, {"weight_randomisation"}),
    ("sanity_checks.weight_randomisation.levels_by", "noise", {"weight_randomisation"}),
    ("sanity_checks.weight_randomisation.layers", ("conv",), {"weight_randomisation"}),
    ("sanity_checks.weight_randomisation.tolerance", 0.1, {"weight_randomisation"}),
    ("sanity_checks.weight_randomisation.max_steps", 5, {"weight_randomisation"}),
    ("sanity_checks.weight_randomisation.scale_bounds", (0.01, 10.0), {"weight_randomisation"}),
])
def test_a_keyed_field_changes_the_keys_of_the_work_that_reads_it(dotted: str, value: Any,
                                                                  changed: set[str]) -> None:
    policy = _policy()
    before, after = all_keys(policy), all_keys(_replaced(policy, dotted, value))
    assert {kind for kind in before if before[kind] != after[kind]} == changed


def test_an_explainer_setting_changes_its_explanation_and_properties_keys() -> None:
    policy = _policy()
    ig = policy.explainers[1]
    spec = dataclasses.replace(ig, settings={**ig.settings, "steps": 40})
    other = dataclasses.replace(policy, explainers=(policy.explainers[0], spec))
    before, after = all_keys(policy), all_keys(other)
    assert {kind for kind in before if before[kind] != after[kind]} == {"explanation", "properties"}
    assert all_keys(policy, 0) != before  # another explainer, other keys


@pytest.mark.parametrize(("dotted", "value"), [
    ("name", "renamed"),
    ("description", "more words"),
    ("profile", "authors_library"),  # its choices reach the keys through the fields it sets
    ("cross_validation.max_accuracy_spread", 0.5),
    ("metrics.reco_form", "as_printed"),
    ("metrics.min_pairs", 5),
    ("metrics.bootstrap.resamples", 10),
    ("metrics.bootstrap.confidence", 0.9),
    ("metrics.reco_chance.seed", 3),
    ("sanity_checks.min_fall", 0.1),
    ("sanity_checks.weight_randomisation.enabled", False),
    ("sanity_checks.weight_randomisation.levels", (0.1, 0.5)),  # keyed by the level's share and seed
    ("sanity_checks.label_shuffling.enabled", False),
    ("thresholds", ()),
    ("requirements", ()),
    ("system.owner", "someone"),
    ("run.device", "cpu"),
    ("run.out", Path("elsewhere")),
    ("ray.enabled", True),
    ("ray.cpus_per_task", 1),
    ("signing.tsa", "https://tsa.example"),
])
def test_a_key_neutral_field_changes_no_key(dotted: str, value: Any) -> None:
    policy = _policy()
    assert all_keys(_replaced(policy, dotted, value)) == all_keys(policy)


def test_without_names_only_fields() -> None:
    with pytest.raises(ValueError, match=r"without names \['sample'\], which are not fields of Metrics"):
        keys.keyed_settings(_policy().metrics, without=("sample",))

