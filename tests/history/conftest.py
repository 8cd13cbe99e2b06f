"""A two-explainer digits policy small enough to audit in seconds, and a history of two audits; a
history of three signed audits recorded without training (for the tamper tables); results.json
documents made without an audit (:func:`results_document`)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditkit import results as r
from auditkit.cli import main

POLICY = """\
version: 1
name: {name}
dataset:
  kind: digits
  max_images: 200
model:
  family: small_cnn
training:
  epochs: 3
  batch_size: 16
  optimizer: adam
  learning_rate: 0.01
  seed: 0
cross_validation:
  k: 2
  seed: 0
  max_accuracy_spread: 1.0
explainers:
  - name: saliency
  - name: random
metrics:
  explain_batch_size: 64
  min_pairs: 1  # a tiny audit has few S≠ pairs; these tests are about the mechanics
  mu_fidelity:
    samples: 20
    n_subsets: 8
  bootstrap:
    resamples: 30
sanity_checks:
  weight_randomisation:
    enabled: false
  label_shuffling:
    enabled: false
"""


def write_policy(folder: Path, name: str = "history-tiny") -> Path:
    """Write the policy into ``folder/policy.yaml`` and return its path."""
    path = folder / "policy.yaml"
    path.write_text(POLICY.format(name=name))
    return path


@dataclass(frozen=True)
class Recorded:
    """A folder holding ``policy.yaml`` and ``out/`` with its history database."""

    folder: Path

    @property
    def policy(self) -> Path:
        return self.folder / "policy.yaml"

    @property
    def out(self) -> Path:
        return self.folder / "out"

    @property
    def db(self) -> Path:
        return self.out / "history.sqlite"

    def run(self, *extra: str) -> int:
        """``auditkit run`` of the policy into ``out`` (quiet), in this process."""
        return main(["run", str(self.policy), "--out", str(self.out), "--quiet", *extra])


@pytest.fixture
def history_policy(tmp_path: Path) -> Path:
    """The policy written into ``tmp_path``."""
    return write_policy(tmp_path)


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """Two audits of the policy into one output folder: #1 trains, #2 reuses the work (and finds
    no regression). Read-only: tests that change it take :func:`history_copy`."""
    history = Recorded(tmp_path_factory.mktemp("history"))
    write_policy(history.folder)
    assert history.run() == 0
    assert history.run("--fail-on-regression") == 0
    return history


@pytest.fixture
def history_copy(recorded: Recorded, tmp_path: Path) -> Recorded:
    """A private copy of :func:`recorded` in another folder (its report files recorded relative to
    the database, so the copy verifies)."""
    copy = Recorded(tmp_path / "copy")
    shutil.copytree(recorded.folder, copy.folder)
    return copy


ACCURACY = r.Estimate(0.9, 0.85, 0.95)


def results_document(*, created: str = "2026-01-01T00:00:00+00:00", policy: str = "p",
                     policy_path: str = "policy.yaml", policy_sha256: str = "f" * 64,
                     accuracy: r.Estimate = ACCURACY,
                     explainers: Mapping[str, Mapping[str, r.Estimate]] | None = None,
                     folds: tuple[str, ...] = ("a" * 64,), history: Mapping[str, Any] | None = None,
                     environment: Mapping[str, Any] | None = None) -> r.AuditDocument:
    """A complete results.json of the current schema, without an audit: ``explainers`` maps each
    explainer to its scores (default: saliency's muF 0.5 [0.4, 0.6]); ``folds``: the checkpoints'
    SHA-256; ``history``: the stamp (:attr:`auditkit.history.Recording.stamp`)."""
    if explainers is None:
        explainers = {"saliency": {"mu_fidelity": r.Estimate(0.5, 0.4, 0.6)}}
    entries = {name: r.ExplainerEntry({}, scores, r.RecoChance(undefined="no pair"), 1, 1, 0, 0, 1, 0,
                                      r.Correlation(0.1, 1, 0)) for name, scores in explainers.items()}
    fold = r.FoldChance("[0.80, 1.00]", 0.8, 1.0, 0.5, True)
    return r.AuditDocument(
        r.SCHEMA_VERSION, "0", created, "pass", r.PolicyRecord(policy, policy_path, policy_sha256, {}),
        r.System(None, None, None, None, None),
        r.Model("family", "small_cnn", "auditkit.models.small_cnn.SmallCNN", "", 1, {}, None, None,
                None, None),
        r.Training("auditkit", None, 0), {}, r.Dataset("digits", "", 2, ("0", "1"), (1, 8, 8), "d" * 64),
        tuple(r.Fold(index, 10, 0.9, sha, fold) for index, sha in enumerate(folds)),
        r.Accuracy(accuracy.value, accuracy.low, accuracy.high, accuracy.undefined), entries, (), (), {},
        r.PropertyChecks(), r.Seeds(0, 0, 0), dict(environment or {}), 1.0, r.Reused((), (), ()),
        history=None if history is None else r.HistoryLink(**history))


@pytest.fixture
def document() -> Callable[..., r.AuditDocument]:
    """:func:`results_document`, to build documents in a test."""
    return results_document


@pytest.fixture
def summary_json() -> str:
    """A results.json as text: two folds (checkpoints ``a...`` and ``b...``), dataset ``d...``."""
    return results_document(folds=("a" * 64, "b" * 64)).to_json().decode()


SIGNED_POLICY = b"version: 1\nname: signed-tiny\n"


@dataclass(frozen=True)
class SignedHistory:
    """A report folder ``out`` with a history of three signed audits (its files are audit #3's),
    ``previous``: a copy of the folder as audit #2 left it, ``ca``: the trust anchor."""

    folder: Path
    ca: Path

    @property
    def out(self) -> Path:
        return self.folder / "out"

    @property
    def previous(self) -> Path:
        return self.folder / "previous"

    @property
    def db(self) -> Path:
        return self.out / "history.sqlite"


def record_signed_audit(out: Path, signer: Any, created: str, *, mu: float = 0.5) -> None:
    """Record one audit as ``auditkit run --sign-key`` does, without training anything: results.json
    with the history stamp, report.html, report.pdf embedding both and the policy, all signed, and
    the dossier kept in ``audits/<id>-<digest>/`` and the row appended with its chain hash signed."""
    from unittest import mock

    from auditkit.history import record_audit
    from auditkit.history.archive import keep_dossier
    from auditkit.report.pdf import PdfAttachment, PdfWriter
    from auditkit.signing import sign_report

    policy = out.parent / "policy.yaml"
    policy.write_bytes(SIGNED_POLICY)
    sha = hashlib.sha256(SIGNED_POLICY).hexdigest()
    out.mkdir(exist_ok=True)
    with record_audit(out / "history.sqlite", "signed-tiny", sha, out) as recording:
        results = results_document(
            created=created, policy="signed-tiny", policy_path=str(policy), policy_sha256=sha,
            explainers={"saliency": {"mu_fidelity": r.Estimate(mu, mu - 0.1, mu + 0.1)}},
            history=recording.stamp).to_json().decode()
        html = f"<!doctype html><html><head><title>Audit</title></head><body><p>{created}</p></body></html>"
        (out / "results.json").write_text(results)
        (out / "report.html").write_text(html)
        (out / "summary.txt").write_text(f"verdict pass {created}\n")
        attachments = [PdfAttachment("results.json", results.encode(), "Data"),
                       PdfAttachment("policy.yaml", SIGNED_POLICY, "Source"),
                       PdfAttachment("report.html", html.encode(), "Alternative")]
        with mock.patch("auditkit.report.pdf.render_html", return_value=html):
            (out / "report.pdf").write_bytes(PdfWriter(attachments).render({"created_iso": created}))
        signed = sign_report(out, signer)
        dossier = [out / "results.json", out / "summary.txt", out / "report.html", out / "report.pdf",
                   *signed.signatures]
        copies = keep_dossier(out, recording.head.audits + 1, dossier)  # as auditkit run keeps it
        recording.finish(dossier[0], [*dossier[1:], *copies], signer=signed.signer)


@pytest.fixture(scope="session")
def signing_keys(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from auditkit.signing import keygen

    return keygen(tmp_path_factory.mktemp("keys"), name="Audit Officer", days=30)


@pytest.fixture(scope="session")
def mallory(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An unrelated signer with its own demo CA: someone who can write the files but lacks the key."""
    from auditkit.signing import keygen, load_signer

    return load_signer(keygen(tmp_path_factory.mktemp("mallory"), name="Mallory", days=30).pkcs12)


@pytest.fixture(scope="session")
def signed_history(tmp_path_factory: pytest.TempPathFactory, signing_keys: Any) -> SignedHistory:
    """Three signed audits into one folder (read-only: tests take :func:`signed_copy`)."""
    from auditkit.signing import load_signer

    history = SignedHistory(tmp_path_factory.mktemp("signed-history"), signing_keys.ca_cert)
    signer = load_signer(signing_keys.pkcs12)
    for index, created in enumerate(("2026-01-01T02:00:00+00:00", "2026-02-01T02:00:00+00:00")):
        record_signed_audit(history.out, signer, created, mu=0.5 + index / 10)
    shutil.copytree(history.out, history.previous)
    record_signed_audit(history.out, signer, "2026-03-01T02:00:00+00:00", mu=0.7)
    return history


@pytest.fixture
def signed_copy(signed_history: SignedHistory, tmp_path: Path) -> SignedHistory:
    """A private copy of :func:`signed_history`."""
    copy = SignedHistory(tmp_path / "copy", signed_history.ca)
    shutil.copytree(signed_history.folder, copy.folder)
    return copy
