"""Valid policies: shipped files, defaults, profiles, path resolution and the resolved dictionary."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import inspect
import itertools
import json
import re
from pathlib import Path

import pytest
import yaml

import auditkit.policy.schema as schema
from auditkit.errors import PolicyError
from auditkit.policy import (
    EXPLAINER_SETTINGS,
    PROFILES,
    check_paths,
    load_policy,
    policy_sha256,
)

from .conftest import MINIMAL, POLICIES


def test_the_shipped_policies_are_all_there() -> None:
    names = {p.stem for p in POLICIES}
    assert {"digits", "digits-paper", "cifar10", "fashion_mnist", "eurosat", "imagefolder",
            "cifar10_lipschitz"} <= names


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_every_shipped_policy_loads(path: Path) -> None:
    policy = load_policy(path)
    assert policy.source == path.absolute()
    assert policy.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == policy_sha256(path)
    assert policy.requirements, "each example shows requirements with legal articles"
    assert all(r.articles for r in policy.requirements)
    json.dumps(policy.to_dict())


def test_the_digits_demo_policy() -> None:
    """The 3-minute demo keeps every section of the report (issue 30): the nine methods and three
    controls, both sanity checks, the properties, chance levels, intervals and a deployed checkpoint;
    what it cuts is the data, the width, the epochs and the budgets its convergence table allows."""
    policy = load_policy(next(p for p in POLICIES if p.stem == "digits"))
    assert policy.name == "digits-demo"
    assert (policy.dataset.kind, policy.dataset.path, policy.model.family) == ("digits", None, "small_cnn")
    # the paper's seven methods, the two cheap methods beyond it and the three controls; a method
    # added to the registry joins the demo only where its cost fits the demo's time (a choice of the
    # demo policy, not of the registry: KernelSHAP and LIME do not fit it)
    assert tuple(e.name for e in policy.explainers) == (
        "saliency", "gradient_input", "integrated_gradients", "smoothgrad", "gradcam", "gradcam_pp",
        "rise", "occlusion", "expected_gradients", "random", "input", "random_smooth")
    assert policy.cross_validation.k == 5
    assert (policy.dataset.max_images, policy.model.base_filters) == (1000, 8)
    t = policy.training
    assert (t.epochs, t.batch_size, t.optimizer, t.learning_rate) == (10, 64, "adam", 0.005)
    assert policy.metrics.mu_fidelity.samples == 200
    assert (policy.metrics.bootstrap.resamples, policy.metrics.reco_chance.permutations) == (250, 500)
    checks = policy.sanity_checks
    assert checks.weight_randomisation.enabled and checks.weight_randomisation.levels_by == "accuracy"
    assert checks.label_shuffling.enabled and checks.max_images == 400
    p = policy.properties
    assert p.robustness.enabled and p.invariance.enabled and p.completeness.enabled
    assert policy.deployed is not None and policy.deployed.checkpoint.name == "digits.pt"


def test_the_papers_protocol_on_digits() -> None:
    """``digits-paper.yaml`` keeps the demo as it was before its cut: all images, the family's width,
    50 epochs, the paper's 60 steps and samples, 1,000 resamples and permutations, three levels each."""
    policy = load_policy(next(p for p in POLICIES if p.stem == "digits-paper"))
    assert (policy.dataset.max_images, policy.model.base_filters, policy.training.epochs) == (None, None, 50)
    steps = {e.name: e.settings for e in policy.explainers}
    assert steps["integrated_gradients"]["steps"] == 60 and steps["smoothgrad"]["samples"] == 60
    assert (policy.metrics.bootstrap.resamples, policy.metrics.reco_chance.permutations) == (1000, 1000)
    assert policy.sanity_checks.weight_randomisation.levels == (0.25, 0.5, 0.75)
    assert policy.sanity_checks.label_shuffling.levels == (0.05, 0.1, 0.3)


@pytest.mark.parametrize(
    ("stem", "kind", "family", "base_filters", "dropout"),
    [
        ("cifar10", "cifar10", "resnet18", 32, 0.25),
        ("fashion_mnist", "fashion_mnist", "resnet18", 26, 0.4),
        ("eurosat", "eurosat", "resnet18", 46, 0.25),
        ("imagefolder", "imagefolder", "small_cnn", 32, None),
        ("cifar10_lipschitz", "cifar10", "lipschitz_cnn", None, None),
    ],
)
def test_the_dataset_examples(stem: str, kind: str, family: str, base_filters: int | None,
                              dropout: float | None) -> None:
    policy = load_policy(next(p for p in POLICIES if p.stem == stem))
    assert policy.dataset.kind == kind and policy.dataset.path is not None
    assert policy.dataset.path.is_absolute()
    model = policy.model
    assert (model.family, model.base_filters, model.dropout) == (family, base_filters, dropout)
    if stem == "fashion_mnist":
        assert policy.dataset.path == Path("/usr/share/datasets/fashion-mnist")


def test_defaults_are_the_papers_choices(write) -> None:
    path = write(MINIMAL)
    policy = load_policy(path)
    assert policy.profile == "paper" and policy.description is None
    assert policy.model == schema.ModelSpec()
    assert policy.training == schema.TrainingSpec(epochs=20, batch_size=64, optimizer="adam",
                                                  learning_rate=0.003, weight_decay=0.0, seed=0)
    assert policy.cross_validation == schema.CrossValidationSpec(k=5, seed=0, max_accuracy_spread=0.03)
    assert policy.metrics.distance == "spearman" and policy.metrics.reco_form == "youden"
    assert policy.metrics.mu_fidelity.subset_fraction == 0.15 and policy.metrics.mu_fidelity.baseline == 0.0
    assert policy.metrics.bootstrap == schema.BootstrapSpec(resamples=1000, confidence=0.95, seed=0)
    weights = policy.sanity_checks.weight_randomisation  # graded by accuracy, not the paper's shares
    assert (weights.levels_by, weights.levels, weights.layers) == ("accuracy", (0.25, 0.5, 0.75), "all")
    assert policy.thresholds == () and policy.requirements == ()
    assert policy.run.device == "auto" and policy.run.out == path.parent / "out"
    assert policy.dataset.split == "all" and policy.dataset.max_images is None


def test_explainer_settings_are_resolved(write) -> None:
    text = MINIMAL + "  - name: integrated_gradients\n  - name: smoothgrad\n    sigma: 0.1\n  - name: rise\n"
    policy = load_policy(write(text))
    settings = {e.name: dict(e.settings) for e in policy.explainers}
    assert settings == {
        "saliency": {},
        "integrated_gradients": {"steps": 60, "baseline": "zero", "method": "riemann_trapezoid"},
        "smoothgrad": {"samples": 60, "sigma": 0.1, "sigma_convention": "range"},
        "rise": {"masks": 1000, "grid_size": 7, "keep_probability": 0.5, "score": "logit"},
    }
    with pytest.raises(TypeError):
        policy.explainers[1].settings["steps"] = 3  # type: ignore[index]


@pytest.mark.parametrize(
    ("profile", "distance", "convention", "target"),
    [("paper", "spearman", "abs", "prediction"), ("authors_library", "sqrt_spearman", "signed", "label")],
)
def test_profile_sets_the_disputed_defaults(write, profile: str, distance: str, convention: str,
                                            target: str) -> None:
    text = MINIMAL.replace("version: 1", f"version: 1\nprofile: {profile}") + "  - name: gradient_input\n"
    policy = load_policy(write(text))
    assert policy.metrics.distance == distance
    assert policy.metrics.target == target
    assert policy.to_dict()["metrics"]["target"] == target
    assert dict(policy.explainers[1].settings) == {"convention": convention}
    assert policy.metrics.reco_form == "youden"


def test_consistency_settings_load_and_are_checked(write) -> None:
    text = (MINIMAL + "metrics:\n  target: label\n  reco_chance:\n    permutations: 499\n    seed: 3\n"
            "sanity_checks:\n  min_fall: 0.1\n  weight_randomisation:\n    scale: relative\n    std: 1.0\n")
    policy = load_policy(write(text))
    assert policy.metrics.target == "label"
    assert (policy.metrics.reco_chance.permutations, policy.metrics.reco_chance.seed) == (499, 3)
    assert policy.sanity_checks.min_fall == 0.1
    assert policy.sanity_checks.weight_randomisation.scale == "relative"
    defaults = load_policy(write(MINIMAL))
    assert defaults.metrics.reco_chance.permutations == 1000 and defaults.sanity_checks.min_fall == 0.05
    for bad, key in (("metrics:\n  target: logits\n", "metrics.target"),
                     ("metrics:\n  reco_chance:\n    permutations: 10\n", "metrics.reco_chance.permutations"),
                     ("sanity_checks:\n  min_fall: 0\n", "sanity_checks.min_fall"),
                     ("sanity_checks:\n  weight_randomisation:\n    std: 1.0e+30\n",
                      "sanity_checks.weight_randomisation.std")):
        with pytest.raises(PolicyError, match=re.escape(key)):
            load_policy(write(MINIMAL + bad))


def test_explicit_fields_override_the_profile(write) -> None:
    text = (MINIMAL.replace("version: 1", "version: 1\nprofile: authors_library")
            + "  - name: gradient_input\n    convention: abs\nmetrics:\n  distance: spearman\n")
    policy = load_policy(write(text))
    assert policy.metrics.distance == "spearman"
    assert policy.explainers[1].settings["convention"] == "abs"


def test_profiles_set_the_same_fields_with_allowed_values() -> None:
    assert set(PROFILES) == {"paper", "authors_library"}
    assert set(PROFILES["paper"]) == set(PROFILES["authors_library"])
    for values in PROFILES.values():
        for path, value in values.items():
            section, *rest = path.split(".")
            if section == "explainers":
                name, setting = rest
                assert EXPLAINER_SETTINGS[name][setting].constraint.check(value) == value
            else:
                assert schema.MetricsSpec.constraints[rest[0]].check(value) == value


def test_relative_paths_are_read_from_the_policy_folder(write, tmp_path: Path) -> None:
    text = MINIMAL.replace("kind: digits", "kind: cifar10\n  path: ../data/cifar") + "run:\n  out: results\n"
    path = write(text)
    policy = load_policy(path)
    assert policy.dataset.path == tmp_path.parent / "data" / "cifar"
    assert policy.run.out == tmp_path / "results"
    absolute = load_policy(write(text.replace("../data/cifar", "/srv/cifar")))
    assert absolute.dataset.path == Path("/srv/cifar")


def test_yaml_features(write) -> None:
    text = MINIMAL + (
        "training: &train\n  epochs: 3\n  seed: 7\n"
        "cross_validation:\n  <<: {seed: 4, k: 3}\n  k: 4\n"
        "metrics:\n  mu_fidelity:\n    subset_fraction: 1e-1\n"
        "thresholds:\n  - id: T1\n    metric: mege\n    op: <=\n    value: 1\n    on: lower_bound\n"
        "model:\n"
    )
    policy = load_policy(write(text))
    assert (policy.training.epochs, policy.training.seed) == (3, 7)
    assert (policy.cross_validation.k, policy.cross_validation.seed) == (4, 4)
    assert policy.metrics.mu_fidelity.subset_fraction == 0.1  # YAML 1.2 float, a string in YAML 1.1
    t = policy.thresholds[0]
    assert (t.estimate, t.op, t.value, t.explainers) == ("lower_bound", "<=", 1.0, "all")
    assert isinstance(t.value, float)
    assert policy.model == schema.ModelSpec()  # an empty section is all defaults


THRESHOLD = MINIMAL + "thresholds:\n  - id: T1\n    metric: mege\n    op: '>='\n    value: 0.5\n"


def test_threshold_estimate_is_also_read_under_its_former_name_on(write) -> None:
    """`on` is YAML 1.1's true for other readers (PyYAML's safe_load), so the key is `estimate`."""
    new = load_policy(write(THRESHOLD + "    estimate: lower_bound\n", "new.yaml"))
    old = load_policy(write(THRESHOLD + "    on: lower_bound\n", "old.yaml"))
    assert new.thresholds == old.thresholds
    assert new.thresholds[0].estimate == "lower_bound"
    assert load_policy(write(THRESHOLD, "default.yaml")).thresholds[0].estimate == "point"
    assert yaml.safe_load(THRESHOLD + "    estimate: point\n")["thresholds"][0]["estimate"] == "point"
    assert new.to_dict()["thresholds"][0]["estimate"] == "lower_bound"


def test_estimate_and_on_together_is_a_placed_error(write) -> None:
    path = write(THRESHOLD + "    estimate: point\n    on: lower_bound\n")
    message = "'on' is the former name of 'estimate': keep only 'estimate'"
    with pytest.raises(PolicyError, match=message) as info:
        load_policy(path)
    assert (info.value.line, info.value.key) == (13, "thresholds[0].on")


def test_to_dict_round_trips(write, tmp_path: Path) -> None:
    for path in POLICIES:
        policy = load_policy(path)
        data = policy.to_dict()
        assert json.loads(json.dumps(data)) == data
        assert "source" not in data and "sha256" not in data
        again = load_policy(write(yaml.safe_dump(data, sort_keys=False), name=f"{path.stem}.yaml"))
        assert again.to_dict() == data
        assert dataclasses.replace(again, source=policy.source, sha256=policy.sha256) == policy


def test_policies_are_frozen_and_hashable(write) -> None:
    policy = load_policy(write(MINIMAL))
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.name = "other"  # type: ignore[misc]
    assert hash(policy) == hash(dataclasses.replace(policy))


def test_lines_of_keys_are_recorded(write) -> None:
    policy = load_policy(write(MINIMAL))
    assert policy.lines["dataset"] == 3 and policy.lines["dataset.kind"] == 4
    assert policy.lines["explainers[0].name"] == 6


def test_check_paths(write, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "file").write_text("")
    check_paths(load_policy(write(MINIMAL)))
    ok = MINIMAL.replace("kind: digits", "kind: imagefolder\n  path: data")
    check_paths(load_policy(write(ok)))
    for target, problem in (("missing", "does not exist"), ("file", "is a file, not a folder")):
        path = write(ok.replace("path: data", f"path: {target}"))
        with pytest.raises(PolicyError, match=problem) as info:
            check_paths(load_policy(path))
        assert (info.value.file, info.value.line, info.value.key) == (path, 5, "dataset.path")
        assert str(info.value).startswith(f"{path}:5: dataset.path: the dataset folder {tmp_path / target}")


def test_sha256_is_of_the_exact_bytes(write) -> None:
    a = load_policy(write(MINIMAL, "a.yaml"))
    b = load_policy(write(MINIMAL + "# a comment\n", "b.yaml"))
    assert a.sha256 != b.sha256
    assert a.to_dict() == b.to_dict()


SECTIONS = [obj for _, obj in inspect.getmembers(schema, inspect.isclass)
            if dataclasses.is_dataclass(obj) and obj.__module__ == schema.__name__]


@pytest.mark.parametrize("cls", SECTIONS, ids=lambda c: c.__name__)
def test_every_field_has_a_docstring(cls: type) -> None:
    body = ast.parse(inspect.getsource(cls)).body[0].body
    documented = {
        node.target.id
        for node, after in itertools.pairwise(body)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
        and isinstance(after.value.value, str)
    }
    assert {f.name for f in dataclasses.fields(cls)} <= documented


@pytest.mark.parametrize("cls", [c for c in SECTIONS if hasattr(c, "problems")], ids=lambda c: c.__name__)
def test_constraints_name_exactly_the_yaml_fields(cls: type) -> None:
    fields = {f.name for f in dataclasses.fields(cls)} - {"source", "sha256", "lines", "objects"}
    assert set(cls.constraints) == fields
