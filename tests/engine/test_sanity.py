"""The sanity checks end to end on the tiny digits audit, and their verdict on synthetic scores."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from auditkit.cli import main
from auditkit.engine.distances import DistanceRecord
from auditkit.engine.sanity import ALPHA, LevelScores, assess_levels
from auditkit.engine.scoring import SCORE_METRICS, explainer_scores
from auditkit.metrics.bootstrap import resample_weights
from auditkit.metrics.chance import image_permutations
from auditkit.results import (
    AuditDocument,
    Estimate,
    FoldCalibration,
    Reused,
    SanityCalibration,
    SanityVerdict,
)

CHECKS = ("weight_randomisation", "label_shuffling")
METRICS = SCORE_METRICS  # every per-explainer metric of the catalog
GATED = ("mege", "reco_corrected")


PASS, FAIL, INCONCLUSIVE = SanityVerdict.PASS, SanityVerdict.FAIL, SanityVerdict.INCONCLUSIVE


def _load(out: Path) -> AuditDocument:
    return AuditDocument.from_json((out / "results.json").read_bytes())


def test_results_json_has_the_sanity_section(sanity_audit: Path) -> None:
    doc = _load(sanity_audit)
    section = doc.sanity_checks
    assert list(section) == list(CHECKS)
    for name in CHECKS:
        check = section[name]
        assert check.levels == (0.0, 0.3)
        assert check.alpha == ALPHA
        assert list(check.explainers) == ["saliency", "gradient_input", "integrated_gradients", "random"]
        gated = []
        for explainer, entry in check.explainers.items():
            clean, degraded = entry.levels
            assert (clean.level, degraded.level) == (0.0, 0.3)
            for metric in METRICS:  # level 0 is the clean audit, number for number
                assert clean.scores[metric] == doc.explainers[explainer].scores[metric]
            assert clean.accuracy.value == doc.accuracy.value
            assert clean.accuracy.low == doc.accuracy.low
            for metric in METRICS:
                trend = entry.trend[metric]
                slope = (degraded.scores[metric].value - clean.scores[metric].value) / 0.3  # two levels
                assert trend.slope == pytest.approx(slope, rel=1e-9)
                assert trend.low <= trend.high
                assert 1 / 51 <= trend.p_value <= 1  # 50 resamples: p >= 1 / (1 + 50)
                assert trend.resamples == 50
                if metric in GATED and explainer != "random":
                    assert trend.verdict in (PASS, FAIL, INCONCLUSIVE) and trend.reason
                    assert trend.passed is (trend.verdict is PASS)
                    if trend.p_value < ALPHA and trend.slope < 0:
                        assert trend.verdict is PASS
                    else:
                        # fail only where the interval excludes a fall of min_fall over the levels
                        excludes = trend.low > -check.min_fall / 0.3
                        assert (trend.verdict is FAIL) is (excludes and "at chance" not in trend.reason)
                else:
                    assert trend.passed is None and trend.verdict is None
            assert entry.in_verdict is (explainer != "random")
            if explainer == "random":
                assert entry.passed is None and entry.status is None
            else:
                verdicts = {entry.trend[m].verdict for m in GATED}
                expected = next(v for v in (FAIL, INCONCLUSIVE, PASS) if v in verdicts)
                assert entry.status is expected
                assert entry.passed is (expected is PASS)
                gated.append(entry.status)
        assert check.passed is all(s is PASS for s in gated)
        assert check.status is next((v for v in (FAIL, INCONCLUSIVE) if v in gated), PASS)
    weights = section["weight_randomisation"]
    assert weights.settings["levels_by"] == "accuracy" and weights.settings["layers"] == "all"
    assert section["label_shuffling"].calibration is None
    (found,) = weights.calibration  # one level, one record per fold
    assert found.level == 0.3 and [c.fold for c in found.folds] == [0, 1, 2]
    for c, fold in zip(found.folds, doc.folds, strict=True):
        assert (c.clean, c.chance) == (fold.accuracy, fold.chance.chance)
        assert c.target == pytest.approx(c.clean - 0.3 * (c.clean - c.chance))
        assert c.reached is (abs(c.accuracy - c.target) <= 0.02) and 2 <= c.steps <= 30
        assert 0.001 <= c.scale <= 100
    thresholds_ok = all(t.passed for t in doc.thresholds) and doc.accuracy.comparable
    sanity_ok = all(c.status is not FAIL for c in section.values())
    assert doc.verdict == ("pass" if thresholds_ok and sanity_ok else "fail")
    summary = (sanity_audit / "summary.txt").read_text()
    for name in CHECKS:
        status = section[name].status.value.upper()
        assert f"sanity check {name}: {status} (levels 0 0.3;" in summary
    targets = [c.target for c in found.folds]
    assert (f"  level 0.3: target accuracy {min(targets):.3f}–{max(targets):.3f}, reached "
            in summary)


def test_the_random_controls_corrected_reco_stays_at_chance_at_every_level(sanity_audit: Path) -> None:
    """Random maps ignore the model, so a change of |S=| and |S≠| alone must not move their corrected
    ReCo off chance: on the S=/S≠ categories of every level of the audit, fresh random maps give a
    corrected ReCo centred on 0 and within the chance band about 95% of the time, while the raw ReCo's
    chance level moves with the set sizes."""
    from auditkit.metrics import pairwise_spearman_distance
    from auditkit.metrics.chance import reco_chance

    levels = sorted((sanity_audit / "work").glob("explainer*_random.pt"))
    assert len(levels) == 3  # the clean audit and one level of each check
    chance_levels, outside = [], 0
    for path in levels:
        category = torch.load(path, weights_only=True)["record"]["category"].long()
        n, pairs = category.shape
        corrected = []
        for seed in range(20):
            maps = torch.rand(n, pairs + 1, 64, generator=torch.Generator().manual_seed(seed))
            distances = pairwise_spearman_distance(maps)[:, 0, 1:].double()
            r = reco_chance(distances, category, 199, torch.Generator().manual_seed(100 + seed))
            corrected.append(r.corrected)
            outside += r.observed > r.null_q95
        chance_levels.append(r.null_mean)
        assert abs(sum(corrected) / len(corrected)) < 0.05, (path.name, corrected)
    assert outside <= 6  # of 60 draws; 3 expected at the 5% level
    assert max(chance_levels) - min(chance_levels) > 0.02  # the raw chance level does move
    # The engine's own random control is reported with its chance band at every level.
    for check in _load(sanity_audit).sanity_checks.values():
        for level in check.explainers["random"].levels:
            chance = level.reco_chance
            assert 0 < chance.p_value <= 1 and chance.null_mean < chance.null_q95
            assert level.score("reco_corrected").value == pytest.approx(
                (level.score("reco").value - chance.null_mean) / (1 - chance.null_mean))


def test_degraded_models_are_less_accurate(sanity_audit: Path) -> None:
    checks = _load(sanity_audit).sanity_checks
    clean, noisy = checks["weight_randomisation"].explainers["saliency"].levels
    # Target: 30 % of the way to chance; the folds' reached accuracies, pooled, are near it.
    targets = [c.target for c in checks["weight_randomisation"].calibration[0].folds]
    assert noisy.accuracy.value == pytest.approx(sum(targets) / len(targets), abs=0.03)
    assert noisy.accuracy.high < clean.accuracy.value
    clean, shuffled = checks["label_shuffling"].explainers["saliency"].levels
    assert shuffled.accuracy.high < clean.accuracy.value  # measured 0.939 -> 0.861


@pytest.mark.parametrize("explainer", ["saliency", "gradient_input", "integrated_gradients"])
def test_label_noise_lowers_mege_of_gradient_methods(sanity_audit: Path, explainer: str) -> None:
    clean, noisy = _load(sanity_audit).sanity_checks["label_shuffling"].explainers[explainer].levels
    assert noisy.scores["mege"].value < clean.scores["mege"].value


def test_rerun_reuses_the_degraded_work(sanity_audit: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(sanity_audit, out)
    policy = next(sanity_audit.parent.glob("*.yaml"))
    before = _load(out)
    assert before.reused_from_earlier_run.sanity == ()
    assert main(["run", str(policy), "--out", str(out), "--quiet"]) in (0, 1)
    after = _load(out)
    names = ["saliency", "gradient_input", "integrated_gradients", "random"]
    assert after.reused_from_earlier_run == Reused(
        folds=(0, 1, 2),
        explainers=tuple(names),
        sanity=tuple([f"weight_randomisation 0.3 {n}" for n in names]
                     + [f"label_shuffling 0.3 fold {i}" for i in range(3)]
                     + [f"label_shuffling 0.3 {n}" for n in names]),
    )
    assert after.sanity_checks == before.sanity_checks
    work = sorted(p.name for p in (out / "work").glob("*.pt"))
    assert work == sorted(
        [f"fold_{i}.pt" for i in range(3)] + [f"shuffle_0.3_{i}.pt" for i in range(3)]
        + [f"explainer_{n}.pt" for n in names]
        + [f"explainer_{c}_0.3_{n}.pt" for c in CHECKS for n in names]
    )


def _synthetic(level: float, mege_shift: float, generator: torch.Generator, *, n: int = 200,
               accuracy: Estimate | None = None, p_eq: float = 0.5) -> LevelScores:
    """Scores of one level from random distances whose S= part is shifted by ``mege_shift``."""
    k = 3
    category = torch.where(torch.rand(n, k - 1, generator=generator) < p_eq, 1, 2).to(torch.uint8)
    distances = torch.rand(n, k - 1, generator=generator) * 0.5 + 0.25
    distances = torch.where(category == 1, (distances + mege_shift).clamp(0, 1), distances)
    record = DistanceRecord(distances, category, torch.zeros(n, k - 1, dtype=torch.bool),
                            torch.zeros(0, k, 8, 8), torch.zeros(0, dtype=torch.long), torch.zeros(0, k))
    weights = resample_weights(n, 40, generator)
    mu = torch.rand(20, generator=generator, dtype=torch.float64)
    scores = {name: explainer_scores(name, record, mu, torch.arange(20), reco_form="youden",
                                     weights=weights, confidence=0.95,
                                     permutations=image_permutations(n, 199,
                                                                     torch.Generator().manual_seed(0)))
              for name in ("saliency", "random")}
    falling = Estimate(0.9 - level / 2, 0.88 - level / 2, 0.92 - level / 2)  # the models degrade
    return LevelScores(level, accuracy or falling, scores)


def test_verdict_gates_mege_and_reco_but_not_random() -> None:
    g = torch.Generator().manual_seed(0)
    # S= distances grow with the level: MeGe falls and ReCo (S= vs S≠ separation) falls too.
    falling = tuple(_synthetic(level, -0.2 + shift, g) for level, shift in
                    ((0.0, 0.0), (0.1, 0.1), (0.3, 0.2)))
    check = assess_levels("weight_randomisation", falling, 0.95, {})
    assert check.trends["saliency"]["mege"].trend.slope < 0
    assert check.verdict("saliency", "mege") == "pass"
    assert check.verdict("saliency", "reco_corrected") == "pass"
    assert check.explainer_passed("random") is None and check.passed and check.status == "pass"
    assert check.trends["saliency"]["mu_fidelity"].passed is None
    assert check.trends["saliency"]["reco"].verdict is None  # raw ReCo: reported only
    rising = tuple(_synthetic(level, 0.2 - shift, g) for level, shift in
                   ((0.0, 0.0), (0.1, 0.1), (0.3, 0.2)))
    failed = assess_levels("label_shuffling", rising, 0.95, {})
    assert failed.verdict("saliency", "mege") == "fail"
    assert "does not fall" in failed.trends["saliency"]["mege"].reason
    assert failed.explainer_passed("saliency") is False and not failed.passed
    assert failed.status == "fail"
    # The typed record carries the same verdicts as enums, level 0 first.
    record = check.document()
    assert record.levels == (0.0, 0.1, 0.3) and record.status is PASS and record.passed
    assert record.explainers["saliency"].trend["mege"].verdict is PASS
    assert record.explainers["saliency"].trend["reco"].verdict is None
    assert record.explainers["saliency"].status is PASS and record.explainers["saliency"].in_verdict
    assert record.explainers["random"].status is None and record.explainers["random"].passed is None
    level = record.explainers["saliency"].levels[1]
    assert level.level == 0.1 and level.scores == {m: falling[1].explainers["saliency"].score(m)
                                                   for m in METRICS}
    assert level.accuracy == falling[1].accuracy
    failed_record = failed.document()
    assert failed_record.status is FAIL and not failed_record.passed
    assert failed_record.explainers["saliency"].trend["mege"].verdict is FAIL
    assert failed_record.explainers["saliency"].trend["mege"].reason == failed.trends["saliency"][
        "mege"].reason


def test_a_flat_score_on_few_pairs_is_inconclusive_not_failed() -> None:
    g = torch.Generator().manual_seed(2)
    # 30 images, S≠ rare: nothing moves, and the intervals are too wide to show that nothing does.
    flat = tuple(_synthetic(level, 0.0, g, n=30, p_eq=0.9) for level in (0.0, 0.1, 0.3))
    check = assess_levels("label_shuffling", flat, 0.95, {}, min_fall=0.05)
    t = check.trends["saliency"]["reco_corrected"]
    assert t.verdict == "inconclusive" and t.trend.low < -0.05 / 0.3
    assert "smallest fall this test could detect" in t.reason and "|S=|/|S≠| per level" in t.reason
    # Per metric: MeGe has 50-odd S= pairs per level, enough to show it does not fall.
    assert check.verdict("saliency", "mege") == "fail" and check.status == "fail"
    # The same flat scores on many pairs show that nothing falls: a failure.
    many = tuple(_synthetic(level, 0.0, g, n=4000) for level in (0.0, 0.1, 0.3))
    assert assess_levels("label_shuffling", many, 0.95, {}).verdict("saliency", "mege") == "fail"


def test_models_at_chance_make_a_flat_score_inconclusive() -> None:
    g = torch.Generator().manual_seed(3)
    chance_level = Estimate(0.11, 0.09, 0.13)
    levels = (_synthetic(0.0, 0.0, g, n=4000),
              _synthetic(0.3, 0.0, g, n=4000, accuracy=chance_level))
    check = assess_levels("weight_randomisation", levels, 0.95, {}, chance=0.1)
    t = check.trends["saliency"]["mege"]
    assert t.verdict == "inconclusive" and "at chance" in t.reason and "level 0.3" in t.reason


def test_a_flat_score_under_a_flat_accuracy_is_inconclusive_not_failed() -> None:
    """Label shuffling the models shrug off: their accuracy does not fall, so neither need MeGe."""
    g = torch.Generator().manual_seed(3)
    flat = Estimate(0.9, 0.88, 0.92)
    levels = tuple(_synthetic(level, 0.0, g, n=4000, accuracy=flat) for level in (0.0, 0.1, 0.3))
    check = assess_levels("label_shuffling", levels, 0.95, {})
    t = check.trends["saliency"]["mege"]
    assert t.verdict == "inconclusive"
    assert "did not fall" in t.reason and "the models' accuracy did not fall over the levels" in t.reason
    assert check.degradation == ("the models' accuracy did not fall over the levels (0.900, 0.900, "
                                 "0.900 at levels 0, 0.1, 0.3)")
    assert check.document().degradation == check.degradation
    # The same scores over falling accuracies: a failure, and no doubt recorded.
    falling = tuple(_synthetic(level, 0.0, g, n=4000) for level in (0.0, 0.1, 0.3))
    check = assess_levels("label_shuffling", falling, 0.95, {})
    assert check.verdict("saliency", "mege") == "fail" and check.degradation == ""
    assert check.document().degradation is None
    # A falling score passes, whatever the accuracy did.
    fell = tuple(_synthetic(level, -0.2 + level, g, accuracy=flat) for level in (0.0, 0.1, 0.3))
    assert assess_levels("label_shuffling", fell, 0.95, {}).verdict("saliency", "mege") == "pass"


def test_an_unreached_target_is_recorded_as_a_doubt() -> None:
    g = torch.Generator().manual_seed(5)
    missed = FoldCalibration(1, 0.9, 0.1, 0.3, 0.52, 100.0, 2, False)
    hit = FoldCalibration(0, 0.9, 0.1, 0.7, 0.71, 0.4, 9, True)
    levels = (_synthetic(0.0, -0.2, g), replace(_synthetic(0.75, 0.0, g), calibration=(hit, missed)))
    check = assess_levels("weight_randomisation", levels, 0.95, {})
    assert check.degradation == ("target accuracy not reached within tolerance (level 0.75 fold 1: "
                                 "0.520 for 0.300 at scale 100 after 2 steps)")
    record = check.document()
    assert record.calibration == (SanityCalibration(0.75, (hit, missed)),)


def test_an_undefined_level_is_inconclusive() -> None:
    g = torch.Generator().manual_seed(4)
    levels = (_synthetic(0.0, -0.2, g), _synthetic(0.3, 0.0, g, p_eq=0.0))  # no S= at 0.3
    check = assess_levels("weight_randomisation", levels, 0.95, {})
    t = check.trends["saliency"]["mege"]
    assert t.verdict == "inconclusive" and "undefined at level 0.3" in t.reason


def test_without_bootstrap_the_check_cannot_pass() -> None:
    g = torch.Generator().manual_seed(1)
    levels = tuple(_synthetic(level, -0.2 + level, g) for level in (0.0, 0.1, 0.3))
    stripped = tuple(
        LevelScores(s.level, s.accuracy, {n: replace(e, resampled={}) for n, e in s.explainers.items()})
        for s in levels
    )
    check = assess_levels("weight_randomisation", stripped, 0.95, {})
    assert check.trends["saliency"]["mege"].trend.p_value is None
    assert check.trends["saliency"]["mege"].verdict == "inconclusive"
    assert check.trends["saliency"]["mege"].passed is False and not check.passed


def test_a_declared_subsample_rescores_the_clean_models_on_it_as_level_0(sanity_audit: Path,
                                                                        tmp_path: Path) -> None:
    """``sanity_checks.max_images``: every level, 0 included, explains the same stratified subsample;
    the clean audit and the models stay as they were. Level 0's pair counts and MeGe equal those of
    the clean audit's own distance record restricted to the subsample's images."""
    from auditkit.data import load_dataset
    from auditkit.data.sampling import stratified_subsample
    from auditkit.metrics.stability import mege
    from auditkit.results import S_EQ, S_NEQ

    out = tmp_path / "out"
    shutil.copytree(sanity_audit, out)
    source = next(sanity_audit.parent.glob("*.yaml"))
    policy = tmp_path / "policy.yaml"
    policy.write_text(source.read_text().replace("sanity_checks:\n", "sanity_checks:\n  max_images: 60\n"))
    before = _load(out)
    assert main(["run", str(policy), "--out", str(out), "--quiet"]) in (0, 1)
    after = _load(out)
    assert after.score("saliency", "mege") == before.score("saliency", "mege")
    assert after.reused_from_earlier_run.folds == (0, 1, 2)  # the same models
    assert "label_shuffling 0.3 fold 0" in after.reused_from_earlier_run.sanity  # not retrained
    n = after.dataset.n_images
    labels = load_dataset("digits", max_images=n, seed=0).labels
    index = stratified_subsample(labels, 60, 0)
    clean = torch.load(sanity_audit / "work" / "explainer_saliency.pt", weights_only=True)["record"]
    distances, category = clean["distances"][index], clean["category"][index]
    for check in CHECKS:
        section = after.sanity_checks[check]
        assert section.images == 60 and before.sanity_checks[check].images == n
        level0 = section.explainers["saliency"].levels[0]
        assert (level0.n_s_eq, level0.n_s_neq) == (int((category == S_EQ).sum()),
                                                   int((category == S_NEQ).sum()))
        assert level0.score("mege").value == pytest.approx(mege(distances[category == S_EQ]), abs=1e-5)
        assert level0.score("mege").value != before.sanity_checks[check].explainers["saliency"].levels[
            0].score("mege").value
    assert (out / "work" / "explainer_sanity_images_saliency.pt").is_file()
