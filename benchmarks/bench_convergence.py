"""Which budgets of the demo policy are converged: the convergence checks over a ladder of budgets.

Audits a copy of ``policies/digits.yaml`` (sanity checks off; ``--images`` audited images, a stratified
subsample) and, on its clean fold models, runs the checks of :mod:`auditkit.engine.convergence` at
each budget b of a ladder (b against 2b) for every sampling estimator of the demo: Integrated
Gradients' steps with both quadratures, SmoothGrad's samples, RISE's masks, Expected Gradients'
samples, muF's subsets, the robustness noise draws, the bootstrap resamples and ReCo's permutations.
Each budget is judged against ``share`` of the width of the score's interval on the audited images,
and against the width scaled to the full demo's 1,797 images (``x sqrt(images / 1797)``), which is
what the demo's own intervals will be. Prints a markdown table: per estimator and budget, the worst
method (largest change / tolerance), and the smallest budget converged from there up.

Run: ``OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/bench_convergence.py [--images 400] [--out F]
[--folder DIR]``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEMO_IMAGES = 1797

EXPLAINER_LADDERS = {
    ("integrated_gradients", "riemann_trapezoid"): (8, 16, 32, 60),
    ("integrated_gradients", "gausslegendre"): (4, 8, 16, 32, 60),
    ("smoothgrad", None): (15, 30, 60),
    ("rise", None): (125, 250, 500),
    ("expected_gradients", None): (8, 16, 32),
}
SUBSETS = (32, 64, 128)
DRAWS = (5, 10)
RESAMPLES = (125, 250, 500, 1000)
PERMUTATIONS = (250, 500, 1000)


@dataclass(frozen=True)
class Row:
    estimator: str
    budget: int
    worst: str
    score: str
    value: float | None
    change: float | None
    width: float | None
    extra: str = ""

    def ratio(self, scale: float) -> float | None:
        """change / tolerance, the interval's width scaled by ``scale`` (not a p-value's tolerance,
        half its distance to 0.05, which no image count scales)."""
        if self.change is None or not self.width:
            return None
        return self.change / (0.5 * self.width * (1.0 if self.score == "reco_chance.p_value" else scale))


def policy_file(folder: Path, images: int, subsample: int) -> Path:
    text = yaml.safe_load((ROOT / "policies" / "digits.yaml").read_text())
    text["dataset"]["max_images"] = images
    text.pop("deployed", None)  # the demo's checkpoint is made by `make demo`; not measured here
    text["sanity_checks"]["weight_randomisation"]["enabled"] = False
    text["sanity_checks"]["label_shuffling"]["enabled"] = False
    text["convergence"] = {"enabled": True, "images": subsample, "seed": 0, "share": 0.5}
    text["run"]["out"] = str(folder / "out")
    path = folder / "digits-convergence.yaml"
    path.write_text(yaml.safe_dump(text, sort_keys=False))
    return path


def worst(estimator: str, budget: int, checks: list, extra: str = "") -> Row:
    """The judged check of largest change / tolerance among ``checks`` (BudgetCheck), as one Row; the
    undetermined ones (a score without interval) are counted in the note."""
    judged = [c for c in checks if c.change is not None and c.tolerance]
    left = len(checks) - len(judged)
    extra = "; ".join(filter(None, [extra, f"{left} of {len(checks)} undetermined" if left else ""]))
    if not judged:
        return Row(estimator, budget, "-", checks[0].score, None, None, None, extra)
    c = max(judged, key=lambda c: c.change / c.tolerance)
    width = None if c.tolerance is None else c.tolerance / 0.5
    return Row(estimator, budget, c.explainer or "model", c.score, c.value, c.change, width, extra)


def explainer_rows(ctx, folds, sub, clean, spec_by_name) -> list[Row]:
    from auditkit.engine.convergence import explainer_checks
    from auditkit.explainers import EXPLAINERS
    from auditkit.policy import ExplainerSpec

    rows = []
    for (name, method), ladder in EXPLAINER_LADDERS.items():
        spec = spec_by_name[name]
        setting = EXPLAINERS[name].budget
        label = f"{name}.{setting}" + (f" ({method})" if method else "")
        for b in ladder:
            settings = {**spec.settings, setting: b, **({"method": method} if method else {})}
            start = time.perf_counter()
            checks, _ = explainer_checks(ctx, folds, sub, ExplainerSpec(name, settings),
                                         clean.explainers[name])
            mege = next(c for c in checks if c.score == "mege")
            extra = f"map change {mege.map_change:.4f}; {time.perf_counter() - start:.1f} s"
            comp = [c for c in checks if c.score == "completeness_error"]
            if comp:
                extra += f"; completeness error at b {comp[0].value:.4f}"
            rows.append(worst(label, b, [mege], extra))
            if comp:
                rows.append(worst(label, b, comp, extra))
    return rows


def fidelity_rows(ctx, folds, sub, clean, maps) -> list[Row]:
    from auditkit.engine.convergence import check, fidelity_values

    rows = []
    for n in SUBSETS:
        at_b, at_2b = (fidelity_values(ctx, folds, sub, maps, budget) for budget in (n, 2 * n))
        checks = [check("n_subsets", name, "mu_fidelity", (n, 2 * n), "change", at_b[name],
                        None if at_b[name] is None or at_2b[name] is None else abs(at_2b[name] - at_b[name]),
                        clean.explainers[name].score("mu_fidelity").interval, 0.5) for name in maps]
        rows.append(worst("metrics.mu_fidelity.n_subsets", n, checks))
    return rows


def robustness_rows(ctx, folds, sub, clean, specs) -> list[Row]:
    from auditkit.engine.convergence import check, robustness_values

    rows = []
    for n in DRAWS:
        by_metric = {"robustness_distance": [], "sensitivity_max": []}
        for spec in specs:
            (s1, d1), (s2, d2) = (robustness_values(ctx, folds, sub, spec, m) for m in (n, 2 * n))
            for metric, a, b in (("robustness_distance", d1, d2), ("sensitivity_max", s1, s2)):
                by_metric[metric].append(check("perturbations", spec.name, metric, (n, 2 * n), "change", a,
                                               None if a is None or b is None else abs(b - a),
                                               clean.explainers[spec.name].score(metric).interval, 0.5))
        rows += [worst("properties.robustness.perturbations", n, checks) for checks in by_metric.values()]
    return rows


def bootstrap_rows(ctx, folds, clean, specs) -> list[Row]:
    from auditkit.engine.convergence import check
    from auditkit.engine.crosstrain import predictions
    from auditkit.engine.distances import S_EQ, explained_classes, pair_categories
    from auditkit.engine.explain import explain_one
    from auditkit.metrics.bootstrap import bootstrap_mean, bootstrap_mege, bootstrap_reco, resample_weights
    from auditkit.metrics.convergence import ends_change

    policy, labels = ctx.policy, ctx.dataset.labels
    preds = predictions(folds, ctx.dataset, ctx.device)
    categories = pair_categories(preds, labels, ctx.fold_of)
    targets = explained_classes(preds, labels, policy.metrics.target)
    records = {s.name: explain_one(s, folds, [f.checkpoint_sha256 for f in folds], ctx.dataset, ctx.fold_of,
                                   categories, targets, policy, ctx.device, ctx.workdir, False)[:2]
               for s in specs}
    rows = []
    for b in RESAMPLES:
        w = resample_weights(len(ctx.dataset), 2 * b, torch.Generator().manual_seed(0))
        checks: dict[str, list] = {}
        for name, (record, mu) in records.items():
            s = clean.explainers[name]
            for metric, values in (("mege", bootstrap_mege(record.distances, record.category == S_EQ, w)),
                                   ("reco", bootstrap_reco(record.distances, record.category, w)[0]),
                                   ("mu_fidelity", bootstrap_mean(mu, w[:, ctx.sample]))):
                interval = s.score(metric).interval
                change = None if interval is None else ends_change(values, b, 0.95)
                checks.setdefault(metric, []).append(check("resamples", name, metric, (b, 2 * b), "ends",
                                                           s.score(metric).value, change, interval, 0.5))
        rows += [worst("metrics.bootstrap.resamples", b, c) for c in checks.values()]
    return rows


def permutation_rows(clean, specs) -> list[Row]:
    from auditkit.engine.convergence import check
    from auditkit.engine.scoring import CHANCE_ALPHA
    from auditkit.metrics.convergence import chance_level_error, p_value_error

    rows = []
    for r in PERMUTATIONS:
        p_checks, e_checks = [], []
        for spec in specs:
            s = clean.explainers[spec.name]
            band = s.reco_chance.chance
            if band is None:
                continue
            p = band.p_value
            p_checks.append(check("permutations", spec.name, "reco_chance.p_value", (r, r), "standard_error",
                                  p,
                                  p_value_error(p, r), (min(p, CHANCE_ALPHA), max(p, CHANCE_ALPHA)), 0.5))
            e_checks.append(check("permutations", spec.name, "reco_corrected", (r, r), "standard_error",
                                  band.corrected,
                                  chance_level_error(band.null_sd, r, band.observed, band.null_mean),
                                  s.score("reco_corrected").interval, 0.5))
        rows += [worst("metrics.reco_chance.permutations", r, c) for c in (p_checks, e_checks) if c]
    return rows


def table(rows: list[Row], scale: float) -> str:
    lines = ["| estimator | b | score | worst method | value at b | change b -> 2b | half width (audited) "
             "| ratio | at demo size | note |", "|---|---:|---|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        ratio, demo = r.ratio(1.0), r.ratio(scale)
        status = "undetermined" if demo is None else "converged" if demo <= 1 else "not converged"
        fmt = lambda v: "" if v is None else f"{v:.4g}"  # noqa: E731
        half = None if r.width is None else r.width / 2
        lines.append(f"| {r.estimator} | {r.budget} | {r.score} | {r.worst} | {fmt(r.value)} | "
                     f"{fmt(r.change)} | {fmt(half)} | {fmt(ratio)} | {status} | {r.extra} |")
    return "\n".join(lines)


def smallest(rows: list[Row], scale: float) -> str:
    """Per (estimator, score): the smallest b from which every larger b of the ladder is converged."""
    out = ["| estimator | score | smallest converged b (audited size) | at demo size |",
           "|---|---|---:|---:|"]
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.estimator, r.score), []).append(r)
    for (estimator, score), group in groups.items():
        cells = []
        for s in (1.0, scale):
            ok = [r.ratio(s) is not None and r.ratio(s) <= 1 for r in group]
            first = next((group[i].budget for i in range(len(group)) if all(ok[i:])), None)
            tried = ", ".join(str(r.budget) for r in group)
            cells.append(f"none of {tried}" if first is None else str(first))
        out.append(f"| {estimator} | {score} | {cells[0]} | {cells[1]} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--subsample", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None, help="also write the tables to this file")
    parser.add_argument("--folder", type=Path, default=None,
                        help="audit folder, kept and reused by a rerun (default: a new temporary one)")
    args = parser.parse_args()
    from auditkit.engine.convergence import audited, convergence_checks, explainer_checks, subsample
    from auditkit.engine.stages import build_context, score_level, train
    from auditkit.policy import load_policy

    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-convergence-"))
    folder.mkdir(parents=True, exist_ok=True)
    policy = load_policy(policy_file(folder, args.images, args.subsample))
    start = time.perf_counter()
    ctx = build_context(policy, folder / "out", torch.device("cpu"), None, log=print)
    folds = train(ctx)
    clean = score_level(ctx, folds, [f.checkpoint_sha256 for f in folds], "")
    audit_s = time.perf_counter() - start
    start = time.perf_counter()
    at_policy = convergence_checks(ctx, folds, clean)
    stage_s = time.perf_counter() - start
    specs = audited(policy.explainers)
    sub = subsample(ctx, folds, args.subsample, 0)
    maps = {s.name: explainer_checks(ctx, folds, sub, s, clean.explainers[s.name])[1] for s in specs}
    by_name = {s.name: s for s in policy.explainers}
    rows = explainer_rows(ctx, folds, sub, clean, by_name)
    rows += fidelity_rows(ctx, folds, sub, clean, maps)
    rows += robustness_rows(ctx, folds, sub, clean, specs)
    rows += bootstrap_rows(ctx, folds, clean, specs)
    rows += permutation_rows(clean, specs)
    scale = math.sqrt(len(ctx.dataset) / DEMO_IMAGES)
    text = "\n\n".join([
        f"Demo policy on {len(ctx.dataset)} images (k = {policy.cross_validation.k}), subsample of "
        f"{sub.index.numel()} images, CPU, torch threads {torch.get_num_threads()}; audit {audit_s:.0f} s, "
        f"convergence stage at the policy's budgets {stage_s:.1f} s "
        f"({sum(c.status.value == 'converged' for c in at_policy.checks)} of {len(at_policy.checks)} "
        "converged).",
        f"Criterion: change b -> 2b <= half the width of the score's 95% interval; 'at demo size' scales "
        f"the width by sqrt({len(ctx.dataset)} / {DEMO_IMAGES}) = {scale:.3f} (a p-value's tolerance, "
        "half its distance to 0.05, is not scaled).",
        table(rows, scale), smallest(rows, scale)])
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
