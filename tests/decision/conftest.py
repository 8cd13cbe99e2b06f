"""A tiny signed audit with a deployed checkpoint, made once per session, for the sheet tests.

Its policy fails on purpose: saliency meets its threshold (certified), Integrated Gradients cannot
(MeGe >= 0.99), so requirement R1 is not met and the audit's verdict is FAIL.

The engine keeps the audit's reference for decisions (results.json ``decisions``: the fold
checkpoints in ``folds/fold_<i>.pt`` of the kept dossier, their digests, the quantiles);
:func:`drop_reference` makes a copy of an audit from before it did (re-rendered and signed), so the
sheets are tested with and without it.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

POLICY = """\
version: 1
name: tiny-decisions
system:
  name: Digit reader
  contact: appeals@example.org
  contest: Write to the appeals office within 30 days, quoting the decision id.
dataset:
  kind: digits
  max_images: 240
model:
  family: small_cnn
training:
  epochs: 8
  batch_size: 16
  learning_rate: 0.003
  seed: 0
cross_validation:
  k: 3
  max_accuracy_spread: 1.0
explainers:
  - name: saliency
  - name: integrated_gradients
    steps: 8
  - name: random
metrics:
  min_pairs: 1
  mu_fidelity: {samples: 20, n_subsets: 8}
  bootstrap: {resamples: 30}
properties:
  robustness: {enabled: false}
  invariance: {enabled: false}
  completeness: {enabled: false}
sanity_checks:
  weight_randomisation: {enabled: false}
  label_shuffling: {enabled: false}
thresholds:
  - id: T1
    metric: mege
    op: ">="
    value: 0.1
    explainers: [saliency]
  - id: T2
    metric: mege
    op: ">="
    value: 0.99
    explainers: [integrated_gradients]
requirements:
  - id: R1
    title: Explanations generalise
    articles: ["EU AI Act Art. 15"]
    evidence: [T1, T2]
deployed:
  checkpoint: deployed.pt
"""


@dataclass(frozen=True)
class SignedAudit:
    """A signed audit's out folder, its CA and its key, and digit images of the audited kind."""

    out: Path
    ca: Path
    key: Path
    checkpoint: Path
    images: tuple[Path, ...]


def _deployed(path: Path) -> None:
    """A small_cnn trained on the audited digits, full batch (the operator's deployed model)."""
    from auditkit.data import load_dataset
    from auditkit.models import build_model

    data = load_dataset("digits", max_images=240, seed=0)
    torch.manual_seed(0)
    net = build_model("small_cnn", num_classes=10, in_channels=1, image_size=(8, 8))
    optimiser = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(40):
        optimiser.zero_grad()
        nn.functional.cross_entropy(net(data.x(slice(None))), data.labels).backward()
        optimiser.step()
    torch.save(net.state_dict(), path)


def _digits(folder: Path) -> tuple[Path, ...]:
    """Three digits the audit did not see, as 8-bit PNG files."""
    from auditkit.data import load_dataset

    data = load_dataset("digits", max_images=400, seed=0)
    paths = []
    for i in (300, 301, 302):
        path = folder / f"digit-{i}.png"
        Image.fromarray((data.images[i, 0].numpy() * 255).round().astype("uint8"), "L").save(path)
        paths.append(path)
    return tuple(paths)


def drop_reference(out: Path, key: Path) -> None:
    """Make the audit in ``out`` one of before auditkit kept a reference for decisions: results.json
    without ``decisions``, rendered and signed again (its history and kept dossiers, which recorded
    the first results.json, are set aside)."""
    from auditkit.report import render_report
    from auditkit.results import AuditDocument
    from auditkit.signing import load_signer, sign_report
    from auditkit.signing.sign import remove_signatures

    doc = dataclasses.replace(AuditDocument.from_json((out / "results.json").read_bytes()), decisions=None)
    shutil.rmtree(out / "audits")
    (out / "history.sqlite").unlink()
    remove_signatures(out)
    (out / "results.json").write_bytes(doc.to_json())
    signer = load_signer(key)
    render_report(doc, out, signer=signer)
    sign_report(out, signer)


@pytest.fixture(scope="session")
def signed_audit(tmp_path_factory: pytest.TempPathFactory) -> SignedAudit:
    """The failing tiny audit, signed, with its reference for decisions and its fold models kept in
    ``audits/<id>-<hex>/folds/`` (read-only)."""
    import auditkit
    import auditkit.signing

    folder = tmp_path_factory.mktemp("decision_audit")
    _deployed(folder / "deployed.pt")
    keys = auditkit.signing.keygen(folder / "keys", name="Sheet Tester", days=30)
    (folder / "policy.yaml").write_text(POLICY)
    done = auditkit.certify(folder / "policy.yaml", out=folder / "out",
                            signing=auditkit.SigningOptions(key=keys.pkcs12))
    assert not done.passed
    return SignedAudit(folder / "out", keys.ca_cert, keys.pkcs12, folder / "deployed.pt",
                       _digits(folder))


@pytest.fixture(scope="session")
def unreferenced_audit(signed_audit: SignedAudit,
                       tmp_path_factory: pytest.TempPathFactory) -> SignedAudit:
    """The same audit as one made before auditkit kept fold models for decisions (read-only)."""
    out = Path(shutil.copytree(signed_audit.out, tmp_path_factory.mktemp("unreferenced") / "out"))
    drop_reference(out, signed_audit.key)
    return dataclasses.replace(signed_audit, out=out)
