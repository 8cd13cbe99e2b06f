"""``auditkit history`` and ``auditkit diff`` on a recorded history, and their errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from auditkit.catalog import names
from auditkit.cli import main


def test_history_lists_newest_first(recorded, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--db", str(recorded.db)]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    sha = json.loads((recorded.out / "results.json").read_text())["policy"]["sha256"]
    assert header.split()[:5] == ["id", "finished", "(UTC)", "status", "verdict"]
    assert [row.split()[0] for row in rows] == ["2", "1"]
    assert all(f"finished  pass     history-tiny {sha[:8]}" in row for row in rows)
    summary = json.loads((recorded.out / "results.json").read_text())

    def compact(name: str) -> str:  # MeGe/ReCo/muF as the listing prints them, "-" where undefined
        values = (summary["explainers"][name]["scores"][m]["value"] for m in names(headline=True))
        return f"{name} " + "/".join("-" if v is None else f"{v:.3f}" for v in values)

    assert all(compact("saliency") in row and compact("random") in row for row in rows)  # #2 reused #1


def test_history_json_and_policy_filter(recorded, capsys: pytest.CaptureFixture[str]) -> None:
    summary = json.loads((recorded.out / "results.json").read_text())
    sha = summary["policy"]["sha256"]
    for selector in ([], ["--policy", "history-tiny"], ["--policy", sha[:12]]):
        assert main(["history", "--db", str(recorded.db), "--json", *selector]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert [row["id"] for row in listed] == [2, 1]
    fidelity = listed[0]["scores"]["explainers"]["saliency"]["mu_fidelity"]
    assert fidelity["value"] == summary["explainers"]["saliency"]["scores"]["mu_fidelity"]["value"]
    assert listed[0]["policy"] == {"name": "history-tiny", "sha256": sha}
    names = {"results.json", "summary.txt", "report.html", "report.pdf"}
    kept = f"audits/0002-{hashlib.sha256((recorded.out / 'results.json').read_bytes()).hexdigest()[:12]}"
    assert listed[0]["report_files"].keys() == names | {f"{kept}/{name}" for name in names}
    assert main(["history", "--db", str(recorded.db), "--policy", "other"]) == 0
    assert capsys.readouterr().out == f"no audits of policy 'other' in {recorded.db}\n"


def test_diff_of_identical_audits(recorded, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "1", "2", "--db", str(recorded.db), "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert diff["verdict"] == {"a": "pass", "b": "pass", "changed": False}
    scores = {(s["explainer"], s["metric"]): s for s in diff["scores"]}
    assert set(scores) == {(None, "accuracy")} | {
        (e, m) for e in ("saliency", "random") for m in names(scope="explainer")}
    summary = json.loads((recorded.out / "results.json").read_text())
    measured = {(e, m) for e, entry in summary["explainers"].items()
                for m in names(scope="explainer") if entry["scores"][m]["value"] is not None}
    defined = [s for s in scores.values() if s["a"]["value"] is not None]
    assert {(s["explainer"], s["metric"]) for s in defined} == {(None, "accuracy")} | measured
    assert ("saliency", "mu_fidelity") in measured and ("random", "mu_fidelity") in measured
    assert all(s["change"] == 0.0 and s["significant"] is False for s in defined)
    assert all(s["change"] is None and s["significant"] is None
               for s in scores.values() if s not in defined)
    assert not any(s["regression"] for s in scores.values())

    assert main(["diff", "2", "1", "--db", str(recorded.db)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[2] == "verdict: pass -> pass"
    accuracy = next(line for line in text if line.startswith("accuracy "))
    assert accuracy.split()[-2:] == ["+0.000", "no"]
    mege = next(line for line in text if line.startswith("saliency mege "))
    if ("saliency", "mege") in measured:  # the same number twice, no change
        assert mege.split()[-2:] == ["+0.000", "no"]
    else:
        assert mege.split()[-4:] == ["undefined", "undefined", "n/a", "n/a"]


@pytest.mark.parametrize(("argv", "message"), [
    (["history"], "no audit history at {missing}; run `auditkit run` first, or pass --db"),
    (["diff", "1", "2"], "no audit history at {missing}"),
    (["diff", "1", "9"], "no audit #9 in {db}; `auditkit history` lists them"),
])
def test_errors_exit_2(recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                       argv: list[str], message: str) -> None:
    missing = tmp_path / "none.sqlite"
    db = missing if "{missing}" in message else recorded.db
    assert main([*argv, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("auditkit: error: " + message.format(missing=missing, db=recorded.db))
    assert err.count("\n") == 1


def test_diff_of_a_failed_audit_exits_2(tmp_path: Path, history_policy: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    def run_audit(*_: object, **__: object) -> None:
        raise ValueError("no data")

    monkeypatch.setattr("auditkit.engine.run_audit", run_audit)
    out = tmp_path / "out"
    assert main(["run", str(history_policy), "--out", str(out), "--quiet"]) == 2
    capsys.readouterr()
    assert main(["diff", "1", "1", "--db", str(out / "history.sqlite")]) == 2
    assert capsys.readouterr().err == ("auditkit: error: audit #1 failed (ValueError: no data); it "
                                       "has no scores to compare\n")


def test_check_and_policy_are_exclusive() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["history", "--check", "--policy", "x"])
    assert exit_info.value.code == 2


def test_every_audit_is_kept_in_its_own_folder(recorded) -> None:
    """Two runs into one out folder: two dossiers under audits/, the latest also at the top."""
    kept = sorted((recorded.out / "audits").iterdir())
    for number, folder in enumerate(kept, 1):  # named by number and results.json's digest
        digest = hashlib.sha256((folder / "results.json").read_bytes()).hexdigest()
        assert folder.name == f"{number:04d}-{digest[:12]}"
        assert json.loads((folder / "results.json").read_text())["history"]["audit_id"] == number
    assert len(kept) == 2
    for name in ("results.json", "summary.txt", "report.html", "report.pdf"):
        assert (recorded.out / name).read_bytes() == (kept[1] / name).read_bytes()


@pytest.mark.parametrize("how", ["policy-file", "out-folder"])
def test_history_finds_the_database_run_wrote(recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str], how: str) -> None:
    monkeypatch.chdir(tmp_path)  # not the policy's folder: ./out/history.sqlite is not there
    where = ["--policy-file", str(recorded.policy)] if how == "policy-file" else ["--db", str(recorded.out)]
    assert main(["history", *where, "--json"]) == 0
    assert [row["id"] for row in json.loads(capsys.readouterr().out)] == [2, 1]
    assert main(["diff", "1", "2", *where]) == 0
    assert main(["history", "--check", *where]) == 0
