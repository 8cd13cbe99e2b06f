"""Damaged work files: every corruption is redone with one warning naming the file, never used.

Two tables on copies of the tiny audit's work files (:func:`tiny_run`): :data:`CORRUPTIONS`, each fed
to the load function the engine uses for that file, which must refuse it with one warning line
naming the file and the reason; and :data:`ROUNDS`, several corruptions at once before a rerun of
the audit, whose results must equal the clean run's.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from auditkit._digest import with_digest
from auditkit.cli import main
from auditkit.data import load_dataset, make_folds
from auditkit.engine import AuditOptions, run_audit
from auditkit.engine.crosstrain import fresh_model
from auditkit.engine.workfiles import (
    WorkDirError,
    load_explanation,
    load_fold_checkpoint,
    load_properties,
    prepare_workdir,
)
from auditkit.models import build_model
from auditkit.policy import load_policy
from auditkit.results import AuditDocument

from .conftest import TinyRun

State = dict[str, Any]


def _edit(change: Callable[[State], Any], *, redigest: bool) -> Callable[[Path], None]:
    """A corruption that loads the file, applies ``change`` and saves it, with its old digest (stale)
    or, with ``redigest``, a recomputed one (then only the plausibility checks can catch it)."""

    def corrupt(path: Path) -> None:
        state = torch.load(path, weights_only=True)
        change(state)
        torch.save(with_digest(state) if redigest else state, path)

    return corrupt


def _replace(path: Path, make: Callable[[Path], None]) -> None:
    path.unlink()
    make(path)


def _zero_weights(state: State) -> None:
    for value in state["state_dict"].values():
        value.zero_()


def _other_architecture(state: State) -> None:
    other = build_model("small_cnn", in_channels=1, num_classes=10, image_size=(8, 8), base_filters=3)
    state["state_dict"] = other.state_dict()


def _set(where: str, value: Any) -> Callable[[State], None]:
    """Set the dotted entry ``where`` (``record.distances``) of a work file."""
    *parents, last = where.split(".")

    def change(state: State) -> None:
        for name in parents:
            state = state[name]
        state[last] = value(state[last]) if callable(value) else value

    return change


def _drop(where: str) -> Callable[[State], None]:
    *parents, last = where.split(".")

    def change(state: State) -> None:
        for name in parents:
            state = state[name]
        del state[last]

    return change


def _flip_category(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t[0, 0] = 1 if int(t[0, 0]) != 1 else 2
    return t


FOLD, SAL, PROPS = "fold_1.pt", "explainer_saliency.pt", "properties"
"""The file each corruption damages: a fold checkpoint, or an explanation pass read as its distances
and muF (``explainer_saliency.pt``) or as its robustness and invariance values (``properties``)."""

CORRUPTIONS: dict[str, tuple[str, Callable[[Path], None], str]] = {
    # name: (file, corruption, what the warning says)
    "checkpoint zeroed weights": (FOLD, _edit(_zero_weights, redigest=False), "digest"),
    "checkpoint zeroed weights, digest recomputed": (FOLD, _edit(_zero_weights, redigest=True),
                                                     r"stores held-out accuracy 0\.\d+ but its weights give"),
    "checkpoint stored accuracy 1.0": (FOLD, _edit(_set("meta.accuracy", 1.0), redigest=False), "digest"),
    "checkpoint stored accuracy 1.0, digest recomputed": (
        FOLD, _edit(_set("meta.accuracy", 1.0), redigest=True), r"stores held-out accuracy 1\.0000"),
    "checkpoint accuracy 7": (FOLD, _edit(_set("meta.accuracy", 7.0), redigest=True), r"accuracy 7\.0, not"),
    "checkpoint of another architecture": (FOLD, _edit(_other_architecture, redigest=True),
                                           "another architecture"),
    "checkpoint of another fold": (FOLD, _edit(_set("meta.fold", 2), redigest=True), "is for fold 2"),
    "checkpoint missing its meta": (FOLD, _edit(_drop("meta"), redigest=True), "meta holds nothing"),
    "checkpoint without a digest": (FOLD, _edit(_drop("digest"), redigest=False), "digest"),
    "checkpoint truncated": (FOLD, lambda p: p.write_bytes(p.read_bytes()[:300]), "unreadable"),
    "checkpoint empty": (FOLD, lambda p: p.write_bytes(b""), "unreadable"),
    "checkpoint a list": (FOLD, lambda p: torch.save([1, 2], p), "holds a list, not a dict"),
    "checkpoint a folder": (FOLD, lambda p: _replace(p, Path.mkdir), r"is a folder.*moved aside"),
    "checkpoint a FIFO": (FOLD, lambda p: _replace(p, os.mkfifo), "not a regular file"),
    "checkpoint a link to /dev/zero": (FOLD, lambda p: _replace(p, lambda q: q.symlink_to("/dev/zero")),
                                       "symbolic link"),
    "distances halved": (SAL, _edit(_set("record.distances", lambda d: d / 2), redigest=False), "digest"),
    "muF of 1.0": (SAL, _edit(_set("mu", lambda m: torch.ones_like(m)), redigest=False), "digest"),
    "muF of 3.0, digest recomputed": (SAL, _edit(_set("mu", lambda m: torch.full_like(m, 3.)), redigest=True),
                                      r"mu holds values .* outside \[-1\.0, 1\.0\]"),
    "record missing a key": (SAL, _edit(_drop("record.category"), redigest=True),
                             "record.category holds nothing"),
    "record of the wrong shape": (SAL, _edit(_set("record.distances", lambda d: d[:100]), redigest=True),
                                  r"distances is torch\.float32 \[100, 2\], "
                                  r"expected torch\.float32 \[360, 2\]"),
    "distances of 2": (SAL, _edit(_set("record.distances", lambda d: d + 2), redigest=True),
                       r"distances holds values .* outside \[0\.0, 1\.0\]"),
    "NaN distances": (SAL, _edit(_set("record.distances", lambda d: d * torch.nan), redigest=True), "NaN"),
    "categories of other models": (SAL, _edit(_set("record.category", _flip_category), redigest=True),
                                   "pair categories"),
    "examples of the wrong size": (SAL, _edit(_set("record.examples", lambda e: e[:, :, :4]), redigest=True),
                                   "examples has shape"),
    "own maps of the wrong size": (SAL, _edit(_set("record.own_maps", lambda m: m[:, :4]), redigest=True),
                                   r"own_maps is torch\.float32 \[\d+, 4, 8\], expected"),
    "infinite own maps": (SAL, _edit(_set("record.own_maps", lambda m: m / 0), redigest=True), "infinite"),
    "explanation a folder": (SAL, lambda p: _replace(p, Path.mkdir), "is a folder"),
    "robustness distance -5": (PROPS, _edit(_set("properties.values.robust_distance",
                                                 lambda d: torch.full_like(d, -5.0)), redigest=True),
                               r"robust_distance holds values in \[-5, -5\]"),
    "sensitivity of the wrong shape": (PROPS, _edit(_set("properties.values.sensitivity", lambda s: s[:3]),
                                                    redigest=True), "sensitivity is"),
    "another image sample": (PROPS, _edit(_set("properties.values.robust_sample", lambda s: s.flip(0)),
                                          redigest=True), "not the image sample"),
    "properties missing their values": (PROPS, _edit(_drop("properties.values"), redigest=True),
                                        "properties.values holds nothing"),
}


@pytest.fixture(scope="module")
def run_context(tiny_run: TinyRun) -> dict[str, Any]:
    """What the engine knows when it loads the tiny run's work files: policy, data, folds, keys."""
    policy = load_policy(tiny_run.policy)
    dataset = load_dataset("digits", max_images=policy.dataset.max_images, seed=policy.cross_validation.seed)
    folds = make_folds(dataset.labels, policy.cross_validation.k, policy.cross_validation.seed)
    saved = torch.load(tiny_run.out / "work" / SAL, weights_only=True)
    fold = torch.load(tiny_run.out / "work" / FOLD, weights_only=True)
    return {"policy": policy, "dataset": dataset, "folds": folds, "explanation": saved,
            "fold_key": fold["meta"]["key"]}


def _load(file: str, work: Path, ctx: dict[str, Any]) -> Any:
    """The load function the engine calls for ``file``, with the run's expectations; None: refused."""
    policy, dataset, saved = ctx["policy"], ctx["dataset"], ctx["explanation"]
    if file == FOLD:
        return load_fold_checkpoint(work / FOLD, ctx["fold_key"], fresh_model(policy, dataset), fold=1,
                                    held_out=ctx["folds"][1], dataset=dataset, device=torch.device("cpu"))
    if file == SAL:
        return load_explanation(work / SAL, saved["key"], saved["record"]["category"], dataset.image_size,
                                policy.metrics.mu_fidelity.samples)
    return load_properties(work / SAL, saved["properties"]["key"], len(dataset), policy.properties,
                           policy.cross_validation.seed)[1]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_clean_work_files_load_without_a_warning(tiny_run: TinyRun, run_context, tmp_path: Path,
                                                 caplog) -> None:
    work = tiny_run.work_into(tmp_path) / "work"
    for file in (FOLD, SAL, PROPS):
        assert _load(file, work, run_context) is not None, file
    assert _warnings(caplog) == []


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_corruption_is_refused_with_one_line(name: str, tiny_run: TinyRun, run_context,
                                                  tmp_path: Path, caplog) -> None:
    file, corrupt, reason = CORRUPTIONS[name]
    work = tiny_run.work_into(tmp_path) / "work"
    path = work / (SAL if file == PROPS else file)
    corrupt(path)
    assert _load(file, work, run_context) is None
    [line] = _warnings(caplog)
    assert "\n" not in line and line.startswith(f"work file {path} ") and line.endswith("; redone")
    assert re.search(reason, line), line


def _scores(results: Path) -> dict:
    doc = AuditDocument.from_json(results.read_bytes())
    return {key: getattr(doc, key) for key in ("folds", "accuracy", "explainers", "thresholds")}


ROUNDS: dict[str, dict[str, str]] = {
    # one corruption per file of the tiny run, applied together before a rerun
    "architecture, folder, stale digest, missing key, out of range": {
        "fold_0.pt": "checkpoint of another architecture",
        "fold_1.pt": "checkpoint a folder",
        "explainer_saliency.pt": "distances halved",
        "explainer_gradcam.pt": "record missing a key",
        "explainer_random.pt": "robustness distance -5",
    },
    "weights, FIFO, muF, shape, accuracy": {
        "fold_2.pt": "checkpoint zeroed weights, digest recomputed",
        "fold_0.pt": "checkpoint stored accuracy 1.0",
        "explainer_saliency.pt": "muF of 1.0",
        "explainer_gradcam.pt": "checkpoint a FIFO",
        "explainer_random.pt": "record of the wrong shape",
    },
}


@pytest.mark.parametrize("round_name", list(ROUNDS))
def test_a_rerun_redoes_the_damaged_work_and_gives_the_clean_numbers(
        round_name: str, tiny_run: TinyRun, tmp_path: Path, caplog) -> None:
    out = tiny_run.work_into(tmp_path / "out")
    for file, name in ROUNDS[round_name].items():
        CORRUPTIONS[name][1](out / "work" / file)
    result = run_audit(AuditOptions(load_policy(tiny_run.policy), out, progress=False))
    assert _scores(out / "results.json") == _scores(tiny_run.out / "results.json")
    lines = _warnings(caplog)
    assert sorted(lines) == sorted(line for line in lines if line.endswith("; redone"))
    for file in ROUNDS[round_name]:
        assert sum(f"work file {out / 'work' / file} " in line for line in lines) == 1, (file, lines)
    redone = {int(f[5]) for f in ROUNDS[round_name] if f.startswith("fold_")}
    assert set(result.reused["folds"]) == {0, 1, 2} - redone


def test_work_being_a_file_is_one_line_and_exit_2(tiny_run: TinyRun, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "work").write_text("not a folder")
    assert main(["run", str(tiny_run.policy), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{out / 'work'} is not a folder" in err and "Traceback" not in err


def test_fresh_empties_the_work_folder(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "junk").mkdir(parents=True)
    (work / "fold_0.pt").write_bytes(b"x")
    (work / ".fold_1.pt.abc.tmp").write_bytes(b"x")
    (work / "link").symlink_to(tmp_path)  # removed, its target kept
    assert prepare_workdir(tmp_path) == work
    assert sorted(p.name for p in work.iterdir()) == ["fold_0.pt", "junk", "link"]  # only the temp file went
    assert prepare_workdir(tmp_path, fresh=True) == work and list(work.iterdir()) == []
    assert tmp_path.is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkDirError, match="is not a folder"):
        prepare_workdir(tmp_path / "file")


def test_run_fresh_reaches_the_engine(tiny_run: TinyRun, tmp_path: Path, monkeypatch, capsys) -> None:
    import auditkit.engine

    seen = []

    def stop(options: AuditOptions, log: Any = None) -> None:
        seen.append(options.fresh)
        raise WorkDirError("stopped here")

    monkeypatch.setattr(auditkit.engine, "run_audit", stop)
    for extra in ([], ["--fresh"]):
        assert main(["run", str(tiny_run.policy), "--out", str(tmp_path / "o"), "--quiet", *extra]) == 2
    assert seen == [False, True]
