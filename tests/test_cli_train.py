"""`auditkit train` as a subprocess: a deployed checkpoint the policy can name, its SHA-256 printed,
never over an existing file, and the one-line errors of `run`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMAND = Path(sys.executable).with_name("auditkit")
POLICY = """\
version: 1
name: train-me
dataset: {kind: digits, max_images: 120}
model: {family: small_cnn}
training: {epochs: 1, batch_size: 32, seed: 3}
explainers: [{name: saliency}]
deployed: {checkpoint: deployed.pt}
"""


def _train(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(COMMAND), "train", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("train")
    (folder / "policy.yaml").write_text(POLICY)
    return folder, _train("policy.yaml", "--out", "deployed.pt", cwd=folder)


def test_train_writes_a_checkpoint_the_policy_names_and_prints_its_digest(trained) -> None:
    import torch

    from auditkit.api import read_policy
    from auditkit.engine.crosstrain import fresh_model
    from auditkit.engine.stages import audited_images
    from auditkit.models.operator import load_deployed

    folder, done = trained
    assert done.returncode == 0, done.stderr
    digest = hashlib.sha256((folder / "deployed.pt").read_bytes()).hexdigest()
    assert done.stdout == f"{digest}  deployed.pt\n"
    assert "training its model on the 120 audited images (seed 3)" in done.stderr
    policy = read_policy(folder / "policy.yaml")
    model = fresh_model(policy, audited_images(policy))
    load_deployed(policy.deployed.checkpoint, model)  # what the deployed stage loads
    meta = torch.load(folder / "deployed.pt", weights_only=True)["meta"]
    assert meta["images"] == 120 and meta["seed"] == 3 and meta["policy_sha256"] == policy.sha256
    assert sorted(p.name for p in folder.iterdir()) == ["deployed.pt", "policy.yaml"]


def test_train_refuses_an_existing_file_unless_forced(trained) -> None:
    folder, first = trained
    before = (folder / "deployed.pt").read_bytes()
    done = _train("policy.yaml", "--out", "deployed.pt", "--quiet", cwd=folder)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "auditkit: error: out: deployed.pt exists: give --force to replace it\n"
    assert (folder / "deployed.pt").read_bytes() == before
    done = _train("policy.yaml", "--out", "deployed.pt", "--force", "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    # the same seed and recipe give the same weights: the same file again
    assert printed == {"path": "deployed.pt", "sha256": first.stdout.split()[0], "images": 120, "seed": 3}
    assert sorted(p.name for p in folder.iterdir()) == ["deployed.pt", "policy.yaml"]  # no temporary file


def test_a_bad_policy_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY.replace("epochs: 1", "epochs: -1"))
    done = _train("policy.yaml", "--out", "d.pt", cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("auditkit: error: ") and "policy.yaml:5" in done.stderr
    assert "training.epochs" in done.stderr
    assert not (tmp_path / "d.pt").exists()


def test_a_folder_as_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "d.pt").mkdir()
    done = _train("policy.yaml", "--out", "d.pt", "--force", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "auditkit: error: out: d.pt is a folder: name the checkpoint file to write\n"
