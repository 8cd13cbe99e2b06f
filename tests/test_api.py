"""The Python API (auditkit.audit, auditkit.certify) and the deployed checkpoint, on tiny audits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from torch import nn

import auditkit
import auditkit.signing
from auditkit.data import load_dataset
from auditkit.errors import PolicyError
from auditkit.results import AuditDocument


def tiny_net(num_classes: int, in_channels: int, image_size: tuple[int, int]) -> nn.Module:
    """The operator's architecture: one convolution and a linear head."""
    h, w = image_size
    return nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * h * w, num_classes))


def fit(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, seed: int,
        device: torch.device) -> nn.Module:
    """The operator's training: full-batch Adam, 30 steps (deterministic on the CPU)."""
    model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y = images.to(device), labels.to(device)
    for _ in range(30):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()
    return model


def tiny_policy(**more: object) -> dict[str, object]:
    return {
        "version": 1, "name": "api-tiny", "dataset": {"kind": "python"},
        "cross_validation": {"k": 2, "max_accuracy_spread": 1.0},
        "explainers": [{"name": "saliency"}, {"name": "random"}],
        "metrics": {"mu_fidelity": {"samples": 20, "n_subsets": 8}, "bootstrap": {"resamples": 20},
                    "reco_chance": {"permutations": 99}},
        "properties": {"robustness": {"samples": 10, "perturbations": 2},
                       "invariance": {"samples": 10}, "completeness": {"enabled": False}},
        "sanity_checks": {"weight_randomisation": {"enabled": False}, "label_shuffling": {"enabled": False}},
        **more,
    }


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_dataset("digits", max_images=120, seed=0)
    return ds.images, ds.labels


def _deployed_checkpoint(folder: Path, images: torch.Tensor, labels: torch.Tensor) -> Path:
    torch.manual_seed(7)
    net = fit(tiny_net(10, 1, (8, 8)), images, labels, seed=7, device=torch.device("cpu"))
    path = folder / "deployed.pt"
    torch.save(net.state_dict(), path)
    return path


def test_certify_a_dict_policy_with_tensors_objects_and_a_deployed_checkpoint(
        tmp_path: Path, digits: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, labels = digits
    checkpoint = _deployed_checkpoint(tmp_path, images, labels)
    keys = auditkit.signing.keygen(tmp_path / "keys", name="API Tester")
    policy = tiny_policy(deployed={"checkpoint": str(checkpoint)})
    done = auditkit.certify(policy, model_factory=tiny_net, train_fn=fit, data=(images, labels),
                            out=tmp_path / "out", signing=auditkit.SigningOptions(key=keys.pkcs12))
    results = AuditDocument.from_json((done.out / "results.json").read_bytes())
    this_file = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    # The objects are recorded by name and source digest, as dotted paths are.
    assert results.model.architecture == "tests.test_api:tiny_net" or \
        results.model.architecture.endswith("test_api:tiny_net")
    assert results.model.factory["source_sha256"] == this_file
    assert results.training.function["qualified_name"].endswith("test_api.fit")
    assert results.training.function["source_sha256"] == this_file
    assert results.dataset.kind == "python" and results.dataset.n_images == 120
    # The deployed checkpoint: its digest, and its accuracy recomputed here from the file.
    deployed = results.deployed
    assert deployed.sha256 == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    net = tiny_net(10, 1, (8, 8))
    net.load_state_dict(torch.load(checkpoint, weights_only=True))
    with torch.no_grad():
        expected = (net(images.float()).argmax(1) == labels).double().mean().item()
    assert deployed.accuracy.value == pytest.approx(expected)
    assert deployed.accuracy.held_out is False and "not a held-out" in deployed.accuracy.note
    for name in ("saliency", "random"):
        figures = deployed.explainers[name]
        assert figures.mu_images == 20 and figures.robustness_images == 10
        for metric in ("mu_fidelity", "robustness_distance", "invariance_distance"):
            assert isinstance(figures.score(metric).value, float)
    # The saliency of a trained model is more faithful than random maps, on the deployed model too.
    assert deployed.explainers["saliency"].score("mu_fidelity").value > \
        deployed.explainers["random"].score("mu_fidelity").value
    html = (done.out / "report.html").read_text()
    assert "tiny_net" in html and deployed.sha256 in html and "small_cnn" not in html
    assert "measure the learning algorithm" in html
    verdict = auditkit.signing.verify_report(done.out, trust=[keys.ca_cert])
    assert verdict.bottom_line and done.signer_fingerprint == keys.fingerprint
    assert done.record.id == 1 and (done.kept / "results.json").is_file()
    from auditkit.history import HistoryStore

    with HistoryStore.open(done.db, create=False) as store:  # the history holds the digest too
        assert store.audit(done.record.id).document.deployed.sha256 == deployed.sha256


def test_audit_a_torch_dataset_returns_the_typed_result(
        tmp_path: Path, digits: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, labels = digits
    data = torch.utils.data.TensorDataset(images, labels)
    result = auditkit.audit(tiny_policy(explainers=[{"name": "saliency"}]), model_factory=tiny_net,
                            train_fn=fit, data=data, out=tmp_path / "out")
    assert isinstance(result, auditkit.engine.AuditResult)
    written = (tmp_path / "out" / "results.json").read_bytes()
    assert result.document().to_json() == written
    assert result.document() == AuditDocument.from_json(written)
    assert result.dataset.fingerprint == load_dataset("digits", max_images=120, seed=0).fingerprint
    assert result.document().deployed is None and "deployed" not in result.document().to_plain()
    assert len(result.folds) == 2


def test_a_dict_policy_error_names_the_key_path() -> None:
    policy = tiny_policy(model={"famly": "small_cnn"})
    with pytest.raises(PolicyError) as caught:
        auditkit.audit(policy)
    assert str(caught.value) == "<policy dict>: model.famly: unknown key 'famly'; did you mean 'family'?"
    with pytest.raises(PolicyError, match=r"^<policy dict>: explainers\[0\]\.steps: saliency has no"):
        auditkit.audit(tiny_policy(explainers=[{"name": "saliency", "steps": 3}]))


def test_objects_that_clash_with_the_policy_name_its_key(
        digits: tuple[torch.Tensor, torch.Tensor]) -> None:
    with pytest.raises(PolicyError, match=r"^<policy dict>: model\.family: model_factory passed"):
        auditkit.audit(tiny_policy(model={"family": "small_cnn"}), model_factory=tiny_net, data=digits)
    with pytest.raises(PolicyError, match=r"^<policy dict>: training\.epochs: epochs sets auditkit's"):
        auditkit.audit(tiny_policy(training={"epochs": 3}), train_fn=fit, data=digits)
    with pytest.raises(PolicyError, match=r"^<policy dict>: dataset\.kind: kind 'python' is the images"):
        auditkit.audit(tiny_policy())


def test_a_deployed_checkpoint_of_another_architecture_is_one_line(tmp_path: Path, capsys) -> None:
    from auditkit.cli import main

    torch.save(nn.Linear(3, 2).state_dict(), tmp_path / "other.pt")
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nname: t\ndataset:\n  kind: digits\nexplainers:\n  - name: saliency\n"
                      "deployed:\n  checkpoint: other.pt\n")
    assert main(["validate", str(policy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"auditkit: error: {policy}:8: deployed.checkpoint: the deployed checkpoint ")
    assert "does not fit the SmallCNN" in err and "unexpected: bias, weight" in err
