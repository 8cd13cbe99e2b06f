"""The audit on a local Ray instance of 2 CPUs: the serial run's numbers, the same resume, no Ray otherwise.

Both runs use one torch thread per process (the serial driver here, ``ray.cpus_per_task: 1`` in
the tasks): CPU float sums depend on the thread count, and the Ray tasks pin theirs to it, which is
what makes the numbers equal bit for bit (see :mod:`auditkit.engine.ray_executor`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch

from auditkit.cli import build_parser, main
from auditkit.engine import AuditOptions, run_audit
from auditkit.engine.audit import make_executor
from auditkit.engine.executor import SerialExecutor, Task
from auditkit.policy import load_policy
from auditkit.results import AuditDocument, Reused

from .conftest import write_tiny_policy

RAY_SECTION = """\
ray:
  num_cpus: 2
  cpus_per_task: 1
"""
"""Tasks of one thread each, two at a time on the 2 CPUs of the local instance."""


def load(results: Path) -> AuditDocument:
    return AuditDocument.from_json(results.read_bytes())


def numbers(results: Path) -> AuditDocument:
    """Everything in results.json but the time stamps."""
    return replace(load(results), created="", run_seconds=0.0, reused_from_earlier_run=NOTHING_REUSED)


NOTHING_REUSED = Reused(folds=(), explainers=(), sanity=())


def audit(policy: Path, out: Path, ray: bool = False) -> bool:
    """Run the audit through the engine (the report is not this test's subject); its verdict."""
    return run_audit(AuditOptions(load_policy(policy), out, device="cpu", progress=False, ray=ray)).passed


@pytest.fixture
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def quiet_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """No usage statistics (no network here); Ray must not be running already."""
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert not ray.is_initialized()


SMALL_POLICY = """\
version: 1
name: ray-small
dataset:
  kind: digits
  max_images: 150
model:
  family: small_cnn
training:
  epochs: 10
  batch_size: 16
  optimizer: adam
  learning_rate: 0.005
  seed: 0
cross_validation:
  k: 3
  seed: 0
  max_accuracy_spread: 1.0
explainers:
  - name: saliency
  - name: gradient_input
  - name: integrated_gradients
    steps: 6
  - name: smoothgrad
    samples: 6
  - name: gradcam
  - name: gradcam_pp
  - name: rise
    masks: 20
  - name: random
metrics:
  explain_batch_size: 64
  mu_fidelity:
    samples: 24
    n_subsets: 16
  bootstrap:
    resamples: 50
thresholds:
  - id: T1
    metric: mege
    op: ">="
    value: 0.1
    explainers: all
sanity_checks:
  weight_randomisation:
    enabled: true
    levels: [0.1, 0.3]
  label_shuffling:
    enabled: true
    levels: [0.1, 0.3]
properties:
  robustness:
    samples: 24
    perturbations: 4
  invariance:
    samples: 24
  completeness:
    samples: 24
requirements:
  - id: R1
    title: Explanations generalise across retrainings
    articles: ["EU AI Act Art. 15"]
    evidence: [T1]
""" + RAY_SECTION
"""The demo policy's shape at a size that audits in seconds: all eight explainers (cheap settings),
both sanity checks at two levels, the three properties; k = 3 on 150 digits. So the Ray run has every
kind of task of the demo, in the demo's four waves: 3 fold trainings; 8 clean explanation passes (with
the properties); 6 label-shuffled retrainings with 16 weight-randomised passes; 16 label-shuffled
passes. The demo policy itself is compared by ``benchmarks/bench_ray_demo.py``."""

EXPLAINERS = ("saliency", "gradient_input", "integrated_gradients", "smoothgrad", "gradcam", "gradcam_pp",
              "rise", "random")


@dataclass(frozen=True)
class SmallRuns:
    """The small policy audited once serially and once on a local Ray instance the run started."""

    policy: Path
    serial: Path
    on_ray: Path
    passed: bool


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallRuns]:
    """Run once per module (both tests below read it; neither modifies its folders)."""
    ray = pytest.importorskip("ray")
    folder = tmp_path_factory.mktemp("ray_small")
    policy = folder / "policy.yaml"
    policy.write_text(SMALL_POLICY)
    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        patch.delenv("RAY_ADDRESS", raising=False)
        assert not ray.is_initialized()
        torch.set_num_threads(1)
        try:
            passed = audit(policy, folder / "serial")
            # The executor starts its own local instance (the policy's num_cpus) and shuts it down.
            assert audit(policy, folder / "ray", ray=True) == passed
            assert not ray.is_initialized()
        finally:
            torch.set_num_threads(before)
    yield SmallRuns(policy, folder / "serial", folder / "ray", passed)


@pytest.mark.slow
def test_a_policy_with_every_kind_of_task_on_ray_matches_the_serial_run_number_for_number(
    small_runs: SmallRuns,
) -> None:
    serial, on_ray = small_runs.serial, small_runs.on_ray
    expected, got = numbers(serial / "results.json"), numbers(on_ray / "results.json")
    assert got == expected
    assert tuple(got.explainers) == EXPLAINERS and got.property_checks.random_scores_worst
    assert all(scores.properties is not None for scores in got.explainers.values())
    assert set(got.sanity_checks) == {"weight_randomisation", "label_shuffling"}
    assert load(on_ray / "results.json").reused_from_earlier_run == NOTHING_REUSED
    work = sorted(path.name for path in (serial / "work").iterdir())
    assert sorted(path.name for path in (on_ray / "work").iterdir()) == work
    # every kind of work file: 3 folds, 2 x 3 label-shuffled retrainings, 8 x 5 explanation passes
    assert len([n for n in work if n.startswith("fold_")]) == 3
    assert len([n for n in work if n.startswith("shuffle_")]) == 6
    for tag in ("", "weight_randomisation_0.1_", "weight_randomisation_0.3_", "label_shuffling_0.1_",
                "label_shuffling_0.3_"):
        assert {f"explainer_{tag}{e}.pt" for e in EXPLAINERS} <= set(work), tag
    different = [name for name in work
                 if (serial / "work" / name).read_bytes() != (on_ray / "work" / name).read_bytes()]
    assert different == []


@pytest.mark.slow
def test_ray_resumes_without_redoing_work(small_runs: SmallRuns, tmp_path: Path, one_thread: None,
                                          quiet_ray: None) -> None:
    import ray

    # A run killed part-way: the serial work files, less a clean fold, a retrained fold and one
    # explanation pass. On a running instance (joined, left running), Ray redoes just those.
    serial = small_runs.serial
    resumed = tmp_path / "resumed"
    shutil.copytree(serial / "work", resumed / "work")
    for name in ("fold_1.pt", "shuffle_0.3_2.pt", "explainer_gradcam.pt"):
        (resumed / "work" / name).unlink()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert audit(small_runs.policy, resumed, ray=True) == small_runs.passed
        assert ray.is_initialized()
    finally:
        ray.shutdown()
    assert numbers(resumed / "results.json") == numbers(serial / "results.json")
    reused = load(resumed / "results.json").reused_from_earlier_run
    assert reused.folds == (0, 2)
    assert reused.explainers == tuple(e for e in EXPLAINERS if e != "gradcam")
    assert "label_shuffling 0.3 fold 0" in reused.sanity
    assert "label_shuffling 0.3 fold 2" not in reused.sanity
    assert "weight_randomisation 0.3 gradcam" in reused.sanity


def test_a_serial_audit_never_imports_ray(tmp_path: Path) -> None:
    policy = write_tiny_policy(tmp_path, epochs=1, explainers=("saliency",))
    script = textwrap.dedent(f"""
        import sys
        import auditkit.cli, auditkit.engine
        from auditkit.policy import load_policy
        assert "ray" not in sys.modules, "importing auditkit imported ray"
        policy = load_policy({str(policy)!r})
        auditkit.engine.run_audit(auditkit.engine.AuditOptions(policy, {str(tmp_path / "out")!r},
                                                               device="cpu", progress=False))
        assert "ray" not in sys.modules, "a serial audit imported ray"
    """)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # quick on a loaded 2-core machine
    subprocess.run([sys.executable, "-c", script], check=True, timeout=600, env=env)


def test_ray_section_errors_are_audit_errors(tmp_path: Path, quiet_ray: None, capsys) -> None:
    policy = write_tiny_policy(tmp_path, epochs=1, explainers=("saliency",))
    policy.write_text(policy.read_text() + "ray:\n  num_cpus: 1\n  cpus_per_task: 2\n")
    assert main(["run", str(policy), "--out", str(tmp_path / "out"), "--quiet", "--ray"]) == 2
    assert "a task needs 2 CPU(s) and 0 GPU(s) but the Ray cluster has 1 and 0" in capsys.readouterr().err
    import ray

    assert not ray.is_initialized()


def test_run_has_a_ray_flag() -> None:
    assert build_parser().parse_args(["run", "p.yaml", "--ray"]).ray is True
    assert build_parser().parse_args(["run", "p.yaml"]).ray is False


def test_serial_executor_runs_in_order_on_the_audit_device(capsys, tmp_path: Path) -> None:
    executor = make_executor(None, torch.device("cpu"), progress=True)
    assert isinstance(executor, SerialExecutor)
    finished: list[str] = []
    tasks = [Task(_echo, (i,), f"task {i}", output=tmp_path / f"{i}.pt") for i in range(3)]
    assert executor.run(tasks, done=lambda t: finished.append(t.name)) == [(0, "cpu"), (1, "cpu"), (2, "cpu")]
    assert finished == ["task 0", "task 1", "task 2"]
    assert executor.produced == {tmp_path / "0.pt", tmp_path / "1.pt", tmp_path / "2.pt"}
    assert "tasks:   0%|          | 0/3" in capsys.readouterr().err  # a bar over the 3 tasks
    make_executor(None, torch.device("cpu")).run(tasks)
    assert capsys.readouterr().err == ""
    data = {"a": 1}
    assert executor.share(data) is data


class RecordingExecutor(SerialExecutor):
    """A serial executor that records the names of the tasks of each :meth:`run` call."""

    def __init__(self, device: torch.device) -> None:
        super().__init__(device)
        self.calls: list[list[str]] = []

    def _run(self, tasks, done):
        self.calls.append([t.name for t in tasks])
        return super()._run(tasks, done)


def test_an_executor_gets_every_level_of_both_checks_in_two_waves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = write_tiny_policy(tmp_path, epochs=3, explainers=("saliency", "random"),
                               sanity_levels=(0.1, 0.3))
    serial = tmp_path / "serial"
    passed = audit(policy, serial)
    recorder = RecordingExecutor(torch.device("cpu"))
    monkeypatch.setattr("auditkit.engine.audit.make_executor", lambda *a, **k: recorder)
    assert audit(policy, tmp_path / "waves", ray=True) == passed
    assert numbers(tmp_path / "waves" / "results.json") == numbers(serial / "results.json")
    assert sorted(p.name for p in (tmp_path / "waves" / "work").iterdir()) == sorted(
        p.name for p in (serial / "work").iterdir())
    assert load(tmp_path / "waves" / "results.json").reused_from_earlier_run == NOTHING_REUSED
    calls = [c for c in recorder.calls if c]  # each level's own submission finds its work done
    assert calls[0] == ["train fold 0", "train fold 1", "train fold 2"]
    assert calls[1] == ["explain saliency", "explain random"]
    assert sorted(calls[2]) == sorted(
        [f"train shuffle_{p} {i}" for p in ("0.1", "0.3") for i in range(3)]
        + [f"explain weight_randomisation_{p} {e}" for p in ("0.1", "0.3") for e in ("saliency", "random")])
    assert sorted(calls[3]) == sorted(
        f"explain label_shuffling_{p} {e}" for p in ("0.1", "0.3") for e in ("saliency", "random"))
    assert len(calls) == 4
    assert recorder.produced == {tmp_path / "waves" / "work" / p.name
                                 for p in (serial / "work").iterdir()}


def _echo(value: int, *, device: torch.device) -> tuple[int, str]:
    return value, device.type
