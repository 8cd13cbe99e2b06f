"""Invalid policies: every problem is a PolicyError naming the file, the line and the key.

In each case the expected line is the one marked ``# <-``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditkit.errors import PolicyError
from auditkit.policy import load_policy, policy_sha256

from .conftest import MINIMAL

HERE = "  # <-"

ERRORS = [
    pytest.param(
        MINIMAL + "training:\n  epohcs: 3" + HERE,
        "training.epohcs", r"^unknown key 'epohcs'; did you mean 'epochs'\?$", id="unknown-key-suggestion"),
    pytest.param(
        MINIMAL + "trainig:" + HERE + "\n  epochs: 3",
        "trainig", r"did you mean 'training'\?", id="unknown-section-suggestion"),
    pytest.param(
        MINIMAL + "training:\n  epochs: five" + HERE,
        "training.epochs", r"^expected an integer in \[1, 10000\], got 'five'$", id="wrong-type"),
    pytest.param(
        MINIMAL + "training:\n  epochs: true" + HERE,
        "training.epochs", r"expected an integer in \[1, 10000\], got true", id="bool-is-not-an-int"),
    pytest.param(
        MINIMAL + "training:\n  epochs: 20.0" + HERE,
        "training.epochs", r"got 20\.0", id="float-is-not-an-int"),
    pytest.param(
        MINIMAL + "training:\n  learning_rate: '0.01'" + HERE,
        "training.learning_rate", r"expected a number in \(0, 10\], got '0\.01'", id="quoted-number"),
    pytest.param(
        MINIMAL + "cross_validation:\n  k: 1" + HERE,
        "cross_validation.k", r"expected an integer in \[2, 100\], got 1$", id="k-1"),
    pytest.param(
        MINIMAL + "cross_validation:\n  k: 1000000000" + HERE,
        "cross_validation.k", r"got 1000000000$", id="k-1e9"),
    pytest.param(
        MINIMAL + "cross_validation:\n  k: [5]" + HERE,
        "cross_validation.k", r"expected an integer in \[2, 100\], got a list", id="list-for-int"),
    pytest.param(
        MINIMAL + "cross_validation:\n  max_accuracy_spread: 0" + HERE,
        "cross_validation.max_accuracy_spread", r"expected a number in \(0, 1\], got 0", id="open-bound"),
    pytest.param(
        MINIMAL + "  - name: rise\n    keep_probability: 1.5" + HERE,
        "explainers[1].keep_probability", r"expected a number in \(0, 1\], got 1\.5", id="keep-probability"),
    pytest.param(
        MINIMAL + "metrics:\n  mu_fidelity:\n    baseline: .nan" + HERE,
        "metrics.mu_fidelity.baseline", r"expected a number in \[-1000, 1000\], got nan", id="nan"),
    pytest.param(
        MINIMAL + "training:\n  weight_decay: " + "9" * 400 + HERE,
        "training.weight_decay", r"got an integer with 400 digits", id="huge-int-for-float"),
    pytest.param(
        MINIMAL + "thresholds:\n  - id: T1\n    metric: mege\n    op: '>='\n    value: -0.5" + HERE,
        "thresholds[0].value", r"a threshold on mege must be in \[0, 1\], got -0\.5",
        id="negative-threshold"),
    pytest.param(
        MINIMAL + "thresholds:\n  - id: T1\n    metric: mu_fidelity\n    op: '>='\n    value: 1.5" + HERE,
        "thresholds[0].value", r"mu_fidelity must be in \[-1, 1\]", id="mu-fidelity-threshold"),
    pytest.param(
        "version: 1" + HERE + "\nname: t\nexplainers:\n  - name: saliency\n",
        "", r"^missing required key 'dataset'$", id="missing-dataset"),
    pytest.param(
        "version: 1" + HERE + "\nname: t\ndataset:\n  kind: digits\n",
        "", r"^missing required key 'explainers'$", id="missing-explainers"),
    pytest.param(
        MINIMAL.replace("dataset:", "dataset:" + HERE).replace("kind: digits", "split: all"),
        "dataset", r"^missing required key 'kind'$", id="missing-dataset-kind"),
    pytest.param(
        MINIMAL.replace("explainers:", "explainers: []" + HERE).replace("  - name: saliency\n", ""),
        "explainers", r"expected a non-empty list .*, got 0 items", id="no-explainers"),
    pytest.param(
        MINIMAL.replace("- name: saliency", "- name: salency" + HERE),
        "explainers[0].name", r"got 'salency'; did you mean 'saliency'\?$", id="unknown-explainer"),
    pytest.param(
        MINIMAL + "    steps: 60" + HERE,
        "explainers[0].steps", r"saliency has no setting 'steps' \(it takes no settings\)",
        id="setting-not-for-this-explainer"),
    pytest.param(
        MINIMAL + "  - name: smoothgrad\n    sigma_convnetion: range" + HERE,
        "explainers[1].sigma_convnetion", r"did you mean 'sigma_convention'\?", id="misspelt-setting"),
    pytest.param(
        MINIMAL + "  - steps: 3" + HERE,
        "explainers[1]", r"missing required key 'name'", id="explainer-without-name"),
    pytest.param(
        MINIMAL + "  - name: saliency" + HERE,
        "explainers[1].name", r"'saliency' is listed twice \(also explainers\[0\]\)",
        id="duplicate-explainer"),
    pytest.param(
        MINIMAL + "training:\n  epochs: 3\n  epochs: 4" + HERE,
        "training.epochs", r"duplicate key 'epochs' \(first on line 8\)", id="duplicate-key"),
    pytest.param(
        MINIMAL + "name: u" + HERE,
        "name", r"duplicate key 'name' \(first on line 2\)", id="duplicate-top-level-key"),
    pytest.param(
        MINIMAL + "run:\n  device: [cpu" + HERE + "\n",
        "", r"^invalid YAML: expected ',' or '\]'", id="syntax-unbalanced-bracket"),
    pytest.param(
        MINIMAL + "training:\n  epochs: 3\n seed: 1" + HERE + "\n",
        "", r"^invalid YAML", id="syntax-bad-indentation"),
    pytest.param(
        MINIMAL + "thresholds:\n  - id: T1\n    metric: mege\n    op: >=" + HERE + "\n    value: 0.1\n",
        "", r"^invalid YAML", id="syntax-unquoted-operator"),
    pytest.param(
        "- version: 1" + HERE + "\n- name: t\n",
        "", r"must be a mapping of keys to values, got a list", id="top-level-list"),
    pytest.param(
        "just text" + HERE, "", r"must be a mapping of keys to values, got a single value",
        id="top-level-scalar"),
    pytest.param(
        MINIMAL + "thresholds:\n  - id: T1\n    metric: mege\n    op: '>='\n    value: 0.5\n"
        "    explainers: [saliency, gradcam]" + HERE,
        "thresholds[0].explainers[1]", r"explainer 'gradcam' is not in this policy's explainers \(saliency\)",
        id="threshold-unknown-explainer"),
    pytest.param(
        MINIMAL + "thresholds:\n  - id: T1\n    metric: mege\n    op: '>='\n    value: 0.5\n"
        "    explainers: [saliency, nope]" + HERE,
        "thresholds[0].explainers[1]", r"got 'nope'", id="threshold-invalid-explainer-name"),
    pytest.param(
        MINIMAL + "thresholds:\n  - id: T1\n    metric: accuracy\n    op: '>='\n    value: 0.5\n"
        "    explainers: [saliency]" + HERE,
        "thresholds[0].explainers", r"measured on the models, not on explainers",
        id="threshold-model-metric"),
    pytest.param(
        MINIMAL + "thresholds:\n  - id: T1\n    metric: mege\n    op: '>='\n    value: 0.5\n"
        "  - id: T1" + HERE + "\n    metric: reco\n    op: '>='\n    value: 0.5\n",
        "thresholds[1].id", r"id 'T1' is used twice", id="duplicate-threshold-id"),
    pytest.param(
        MINIMAL + "thresholds:\n  - id: T1\n    metric: mege\n    op: '>='\n    value: 0.5\n"
        "requirements:\n  - id: R1\n    title: x\n    evidence: [T1, T2]" + HERE,
        "requirements[0].evidence[1]", r"^no threshold has id 'T2' \(threshold ids: T1\)$",
        id="requirement-unknown-threshold"),
    pytest.param(
        MINIMAL + "requirements:\n  - id: R1" + HERE + "\n    evidence: [T1]\n",
        "requirements[0]", r"missing required key 'title'", id="requirement-without-title"),
    pytest.param(
        MINIMAL.replace("kind: digits", "kind: digits\n  path: data" + HERE),
        "dataset.path", r"digits is bundled with scikit-learn and takes no path", id="path-for-digits"),
    pytest.param(
        MINIMAL.replace("dataset:", "dataset:" + HERE).replace("kind: digits", "kind: cifar10"),
        "dataset.path", r"^cifar10 is read from a folder: set 'path' to it$",
        id="no-path-for-cifar10"),
    pytest.param(
        MINIMAL.replace("kind: digits", "kind: cifar10\n  path: null" + HERE),
        "dataset.path", r"set 'path'", id="null-path-for-cifar10"),
    pytest.param(
        MINIMAL.replace("kind: digits", "kind: digits\n  split: train" + HERE),
        "dataset.split", r"digits has no 'train' split", id="split-for-digits"),
    pytest.param(
        MINIMAL.replace("kind: digits", "kind: digits\n  max_images: 10" + HERE),
        "dataset.max_images", r"expected an integer in \[20, 1000000000\] or null, got 10", id="max-images"),
    pytest.param(
        MINIMAL.replace("version: 1", "version: 2" + HERE),
        "version", r"^expected 1, got 2$", id="version"),
    pytest.param(
        MINIMAL.replace("name: t", "name: ''" + HERE),
        "name", r"expected a non-empty string, got ''", id="empty-name"),
    pytest.param(
        MINIMAL.replace("version: 1", "version: 1\nprofile: author_library" + HERE),
        "profile", r"did you mean 'authors_library'\?", id="profile"),
    pytest.param(
        MINIMAL + "sanity_checks:\n  label_shuffling:\n    levels: [0.1, 0.3,\n      0.2]" + HERE,
        "sanity_checks.label_shuffling.levels[2]", r"strictly increasing", id="levels-not-increasing"),
    pytest.param(
        MINIMAL + "sanity_checks:\n  weight_randomisation:\n    enabled: 'no'" + HERE,
        "sanity_checks.weight_randomisation.enabled", r"expected true or false, got 'no'", id="flag"),
    pytest.param(
        MINIMAL + "run:\n  device: gpu" + HERE,
        "run.device", r"expected 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'", id="device"),
    pytest.param(
        MINIMAL + "run: !custom {out: x}" + HERE,
        "run", r"expected a mapping, got a mapping tagged !custom", id="custom-tag-on-mapping"),
    pytest.param(
        MINIMAL + "description: !!python/object/apply:os.system [ls]" + HERE,
        "description", r"got a list tagged tag:yaml.org,2002:python/object/apply", id="python-tag"),
    pytest.param(
        MINIMAL + "description: !!python/name:os.system ''" + HERE,
        "description", r"cannot read the value .*python/name:os\.system", id="python-tag-scalar"),
    pytest.param(
        MINIMAL + "training:\n  seed: 2020-13-45" + HERE,
        "training.seed", r"cannot read the value '2020-13-45'", id="bad-timestamp"),
    pytest.param(
        MINIMAL + "training: &a\n  <<: *a" + HERE,
        "", r"an alias refers to the mapping or list it is inside", id="recursive-merge"),
    pytest.param(
        MINIMAL + "training:\n  [a, b]: 3" + HERE,
        "training", r"keys must be plain names", id="complex-key"),
]


@pytest.mark.parametrize(("text", "key", "message"), ERRORS)
def test_error_names_file_line_and_key(write, text: str, key: str, message: str) -> None:
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.endswith(HERE))
    path = write(text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    error = info.value
    assert (error.file, error.line, error.key) == (path, line, key), str(error)
    assert str(error) == f"{path}:{line}: " + (f"{key}: " if key else "") + error.detail
    assert re.search(message, error.detail), error.detail
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        pytest.param("", 1, r"^the policy file is empty", id="empty"),
        pytest.param("# only a comment\n\n", 1, r"^the policy file is empty", id="only-comments"),
        pytest.param(MINIMAL.encode() + b"name: caf\xe9\n", 7,
                     rf"^not UTF-8 text \(byte 0xe9 at offset {len(MINIMAL) + 9}\)", id="latin-1"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", 1, r"^not UTF-8 text", id="binary"),
        pytest.param(MINIMAL + "name: \x07\n", 7,
                     r"^invalid YAML: special characters are not allowed \(character U\+0007\)",
                     id="control-character"),
        pytest.param("version: 1\n---\nname: t\n", 2,
                     r"^invalid YAML: but found another document \(expected a single document",
                     id="two-documents"),
    ],
)
def test_unreadable_content(write, content: str | bytes, line: int, message: str) -> None:
    path = write(content)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert re.search(message, info.value.detail), info.value.detail
    assert (info.value.file, info.value.line, info.value.key) == (path, line, "")
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    for read in (load_policy, policy_sha256):
        with pytest.raises(PolicyError) as info:
            read(path)
        assert (info.value.file, info.value.line) == (path, None)
        assert str(info.value) == f"{path}: policy file not found"
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(str(path))


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="is a folder, not a policy file") as info:
        load_policy(tmp_path)
    assert info.value.file == tmp_path


def test_unreadable_path(write) -> None:
    path = write(MINIMAL) / "policy.yaml"  # a file's child: neither missing nor readable
    with pytest.raises(PolicyError, match="cannot read the policy file: Not a directory") as info:
        load_policy(path)
    assert (info.value.file, info.value.line) == (path, None)


def test_every_problem_of_a_file_is_reported_in_one_run(write) -> None:
    """Six wrong keys in six sections: one PolicyError, one line per problem in file order, each with
    its own line and key (a user fixes them all at once instead of running six times)."""
    text = (MINIMAL.replace("kind: digits", "kind: digits\n  max_imagez: 50")
            + "training:\n  epohcs: 3\n  batch_size: 0\n"
            + "cross_validation:\n  k: 1\n"
            + "metrics:\n  distance: euclid\n")
    text = text.replace("  - name: saliency",
                        "  - name: saliency\n  - name: rise\n    grid_size: 1\n    maskz: 3")
    path = write(text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    problems = info.value.problems
    keys = [p.key for p in problems]
    assert keys == ["dataset.max_imagez", "explainers[1].grid_size", "explainers[1].maskz",
                    "training.epohcs", "training.batch_size", "cross_validation.k", "metrics.distance"]
    rows = text.splitlines()
    for p in problems:
        assert p.file == path
        assert rows[p.line - 1].strip().startswith(p.key.split(".")[-1].split("[")[0]), (p.key, p.line)
    assert str(info.value).splitlines() == [str(PolicyError(p.detail, file=p.file, line=p.line, key=p.key))
                                            for p in problems]
    assert info.value.key == "dataset.max_imagez"
