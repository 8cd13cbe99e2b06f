"""Reproduce the qualitative findings of Fel et al. (WACV 2022) with auditkit, on one data set.

Two audits, each an ordinary ``run_audit`` (so a rerun resumes and reuses finished work):

- ``standard``: the data set's shipped policy (``policies/digits.yaml``, ``fashion_mnist.yaml`` or
  ``cifar10.yaml``) with both sanity checks of section 4.2 enabled;
- ``lipschitz``: the same audit of 1-Lipschitz CNNs (Table 4, deel-torchlip), without sanity checks.

It then prints and saves, side by side with the paper's numbers where the paper has them:

1. the sanity-check curves of MeGe and ReCo per explainer (the shape of Fig. 3) and muF under the
   same degradations (Fig. 4): ``fig3_sanity.png``, ``fig4_fidelity.png``;
2. MeGe and ReCo of the standard CNN vs the 1-Lipschitz CNN, with CIs (Tables 2 and 3);
3. a table in the form of Table 1 / Table 5 (muF, MeGe, ReCo per method);
4. which of the paper's qualitative claims held on this data and which did not (``claims.json``).

A claim is judged with the audit's own statistics: a trend by its one-sided bootstrap p-value
(< 0.05, as the sanity checks), "muF does not react" by the slope's 95% interval containing 0, a
comparison of two models by the sign of the difference and, for "significant", by disjoint 95% CIs.

Usage (from the repository root, after ``make test`` or ``make demo`` has built ``.venv``)::

    .venv/bin/python examples/reproduce_paper.py                     # digits, bundled
    .venv/bin/python examples/reproduce_paper.py --dataset fashion_mnist \\
        --data /usr/share/datasets/fashion-mnist --max-images 2000
    .venv/bin/python examples/reproduce_paper.py --dataset cifar10 --data DIR/cifar-10-batches-py

Everything is written under ``--out`` (default ``out/reproduce/<dataset>``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("integrated_gradients", "smoothgrad", "saliency", "gradient_input", "gradcam", "gradcam_pp",
           "rise")
"""The paper's seven methods, in the column order of its Tables 2, 3 and 5."""
SHORT = {"integrated_gradients": "IG", "smoothgrad": "SG", "saliency": "SA", "gradient_input": "GI",
         "gradcam": "GC", "gradcam_pp": "G+", "rise": "RI", "random": "RND", "input": "INP"}
CONTROLS = ("random", "input")
"""The two controls every audit of the script includes: a model-independent random map and the input
itself (|x| summed over channels), whose MeGe is 1 by construction."""
CHECKS = ("weight_randomisation", "label_shuffling")
ALPHA = 0.05

BASE_POLICY = {"digits": "digits.yaml", "fashion_mnist": "fashion_mnist.yaml", "cifar10": "cifar10.yaml"}
SMALL_CNN = {
    # --model small_cnn: auditkit's family at its default width, Adam 0.01 with its one-cycle schedule.
    "model": {"family": "small_cnn", "base_filters": 16},
    "training": {"epochs": 30, "batch_size": 64, "optimizer": "adam", "learning_rate": 0.01,
                 "weight_decay": 0.0},
}
LIPSCHITZ_TRAINING = {
    # 1-Lipschitz CNNs need their own schedule; these reach accuracies near the standard model's.
    "digits": {"epochs": 30, "batch_size": 64, "optimizer": "adam", "learning_rate": 0.002},
    "fashion_mnist": {"epochs": 30, "batch_size": 128, "optimizer": "adam", "learning_rate": 0.002},
    "cifar10": {"epochs": 60, "batch_size": 128, "optimizer": "adam", "learning_rate": 0.001},
}

# The paper's numbers (appendix G and section 4.5), columns in METHODS order.
PAPER = {
    "cifar10": {
        "table": "Table 5 (ResNet-18, CIFAR-10)",
        "mu_fidelity": (0.11, 0.31, 0.23, 0.10, 0.91, 0.89, 0.84),
        "mege": (0.58, 0.46, 0.45, 0.55, 0.72, 0.82, 0.56),
        "reco": (0.11, 0.15, 0.15, 0.09, 0.64, 0.49, 0.52),
        "lipschitz_mege": (0.72, 0.60, 0.58, 0.67, 0.75, 0.54, 0.85),
        "lipschitz_reco": (0.60, 0.90, 0.81, 0.50, 0.67, 0.24, 0.84),
    },
    "fashion_mnist": {
        "table": "Table 7 (ResNet-18, Fashion-MNIST)",
        "mege": (0.90, 0.36, 0.30, 0.90, 0.77, 0.84, 0.52),
        "reco": (0.37, 0.13, 0.10, 0.37, 0.52, 0.32, 0.37),
    },
}


def build_policy(dataset: str, variant: str, data: Path | None, max_images: int | None,
                 out: Path, model: str = "policy", rise_masks: int | None = None,
                 weights: str = "paper") -> Path:
    """Write the policy of one audit to ``out/<variant>/policy.yaml`` and return its path.

    The shipped policy is the base; the variant changes the model (and its training) and the
    sanity checks; the extra properties (robustness, invariance) are switched off, since the paper
    does not measure them; thresholds and requirements are dropped (this is a study, not an audit);
    the explainers are the paper's seven and the two controls (a method of the shipped policy
    beyond the paper is left out). ``weights``: ``paper``, the weight randomisation of appendix E.2
    (shares 0.05, 0.1, 0.3 of the conv weights given N(0, 0.5) noise), or ``graded``, the shipped
    policy's own (by default ``levels_by: accuracy``: each level a target accuracy).
    """
    doc = yaml.safe_load((ROOT / "policies" / BASE_POLICY[dataset]).read_text())
    doc["name"] = f"reproduce-{dataset}-{variant}"
    doc.pop("deployed", None)  # the reproduction measures the folds; no deployed model is named here
    if data is not None:
        doc["dataset"]["path"] = str(data.resolve())
    if max_images is not None:
        doc["dataset"]["max_images"] = max_images
    for section in (doc.get("properties") or {}).values():
        if isinstance(section, dict):
            section["enabled"] = False
    doc["thresholds"], doc["requirements"] = [], []
    doc["explainers"] = [e for e in doc["explainers"] if e["name"] in SHORT]
    named = {e["name"] for e in doc["explainers"]}
    doc["explainers"] += [{"name": c} for c in CONTROLS if c not in named]
    for e in doc["explainers"]:
        if e["name"] == "rise" and rise_masks is not None:
            e["masks"] = rise_masks
    if model == "small_cnn" and variant == "standard":
        doc["model"] = dict(SMALL_CNN["model"])
        doc["training"] = {**SMALL_CNN["training"], "seed": doc.get("training", {}).get("seed", 0)}
    sanity = doc.setdefault("sanity_checks", {})
    for check in CHECKS:
        sanity.setdefault(check, {})["enabled"] = variant == "standard"
    if weights == "paper":  # appendix E.2: shares of conv weights noised, not graded
        sanity["weight_randomisation"]["levels_by"] = "noise"
        sanity["weight_randomisation"]["levels"] = [0.05, 0.1, 0.3]
        for key in ("layers", "tolerance", "max_steps", "scale_bounds"):
            sanity["weight_randomisation"].pop(key, None)
    if variant == "lipschitz":
        doc["model"] = {"family": "lipschitz_cnn"}
        doc["training"] = {**LIPSCHITZ_TRAINING[dataset], "seed": doc.get("training", {}).get("seed", 0)}
        # The paper compares models of comparable accuracy; the spread test is not the point here.
        doc.setdefault("cross_validation", {})["max_accuracy_spread"] = 0.2
    doc.setdefault("run", {})["out"] = "."
    path = out / variant / "policy.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def audit(policy_path: Path, device: str, progress: bool) -> dict[str, Any]:
    """Run (or resume) one audit and return its results.json content (schema 2: scores under ``scores``)."""
    from auditkit.engine import AuditOptions, run_audit
    from auditkit.policy import load_policy

    policy = load_policy(policy_path)
    out_dir = policy_path.parent
    started = time.perf_counter()
    run_audit(AuditOptions(policy, out_dir, device=device, progress=progress),
              log=lambda line: print(f"  {line}", flush=True))
    print(f"  {policy.name}: {time.perf_counter() - started:.0f} s", flush=True)
    return json.loads((out_dir / "results.json").read_text())


def score(results: dict[str, Any], method: str, metric: str) -> dict[str, Any]:
    return results["explainers"][method]["scores"][metric]


def fmt(entry: dict[str, Any], digits: int = 2) -> str:
    """``value [low, high]``, or ``n/a`` for an undefined score."""
    if entry.get("value") is None:
        return "n/a"
    if entry.get("ci_low") is None:
        return f"{entry['value']:.{digits}f}"
    return f"{entry['value']:.{digits}f} [{entry['ci_low']:.{digits}f}, {entry['ci_high']:.{digits}f}]"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table with aligned columns."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line(r) for r in rows)])


def methods_of(results: dict[str, Any]) -> list[str]:
    return [m for m in (*METHODS, *CONTROLS) if m in results["explainers"]]


def chance(results: dict[str, Any], method: str) -> str:
    """ReCo's chance level: the mean and 95th percentile of its permutation null, and the p-value."""
    c = results["explainers"][method].get("reco_chance") or {}
    if c.get("null_mean") is None:
        return "n/a"
    return f"{c['null_mean']:.2f} ({c['null_q95']:.2f}), p={c['p_value']:.2g}"


def input_rho(results: dict[str, Any], method: str) -> str:
    """The mean |rho| of the method's maps with the input (the input control's artefact check)."""
    rho = (results["explainers"][method].get("input_correlation") or {}).get("mean_abs_rho")
    return "n/a" if rho is None else f"{rho:.3f}"


def table_scores(std: dict[str, Any], dataset: str) -> str:
    """Table 1 / Table 5 form: muF, MeGe, ReCo (and ReCo_AUC) per method, with CIs."""
    methods = methods_of(std)
    rows = [[label, *(fmt(score(std, m, key)) for m in methods)]
            for key, label in (("mu_fidelity", "muF"), ("mege", "MeGe"), ("reco", "ReCo"),
                               ("reco_corrected", "ReCo_c (chance-corrected)"), ("reco_auc", "ReCo_AUC"))]
    rows.insert(3, ["ReCo chance: null mean (95th pct), p", *(chance(std, m) for m in methods)])
    rows.append(["mean abs rho with the input", *(input_rho(std, m) for m in methods)])
    paper = PAPER.get(dataset, {})
    for key, label in (("mu_fidelity", "muF"), ("mege", "MeGe"), ("reco", "ReCo")):
        if key in paper:
            rows.append([f"paper {label}", *(f"{v:.2f}" for v in paper[key]),
                         *(["-"] * (len(methods) - len(METHODS)))])
    title = f"Scores of the standard model on {dataset} (form of Table 1 / Table 5"
    title += f"; paper rows from {paper['table']})" if paper else "; the paper has no table for it)"
    return title + "\n\n" + table(["", *(SHORT[m] for m in methods)], rows)


def table_lipschitz(std: dict[str, Any], lip: dict[str, Any], dataset: str, metric: str) -> str:
    """Tables 2 / 3 form: one metric for the standard and the 1-Lipschitz model, with CIs."""
    methods = methods_of(std)
    label = {"mege": "MeGe", "reco": "ReCo"}[metric]
    rows = []
    for name, res in (("standard CNN", std), ("1-Lipschitz CNN", lip)):
        acc = res["accuracy"]
        rows.append([name, f"{acc['value']:.3f}", *(fmt(score(res, m, metric)) for m in methods)])
    paper = PAPER.get(dataset, {})
    if f"lipschitz_{metric}" in paper:
        pad = ["-"] * (len(methods) - len(METHODS))
        rows.append(["paper ResNet-18", "~0.78", *(f"{v:.2f}" for v in paper[metric]), *pad])
        rows.append(["paper 1-Lipschitz", "~0.78", *(f"{v:.2f}" for v in paper[f"lipschitz_{metric}"]),
                     *pad])
    number = {"mege": 2, "reco": 3}[metric]
    return (f"{label}: standard vs 1-Lipschitz on {dataset} (form of Table {number})\n\n"
            + table(["model", "accuracy", *(SHORT[m] for m in methods)], rows))


def table_sanity(std: dict[str, Any]) -> str:
    """Per check and explainer: MeGe, ReCo and muF at each level, slope [CI] and p-value."""
    parts = []
    for check in CHECKS:
        entry = std["sanity_checks"][check]
        levels = ", ".join(f"{x:g}" for x in entry["levels"])
        rows = []
        for method, data in entry["explainers"].items():
            for metric, label in (("mege", "MeGe"), ("reco", "ReCo"), ("reco_corrected", "ReCo_c"),
                                  ("mu_fidelity", "muF")):
                if metric not in data["trend"]:
                    continue
                values = " ".join("n/a" if lv["scores"][metric]["value"] is None
                                  else f"{lv['scores'][metric]['value']:.3f}" for lv in data["levels"])
                t = data["trend"][metric]
                slope = fmt({"value": t["slope"], "ci_low": t["ci_low"], "ci_high": t["ci_high"]})
                p = "n/a" if t["p_value"] is None else f"{t['p_value']:.3f}"
                verdict = t.get("verdict") or {True: "pass", False: "fail", None: "reported"}[t["passed"]]
                rows.append([SHORT[method], label, values, slope, p, verdict])
        accuracy = " ".join(f"{lv['accuracy']['value']:.3f}"
                            for lv in next(iter(entry["explainers"].values()))["levels"])
        parts.append(f"Sanity check {check.replace('_', ' ')} (levels {levels}; accuracy {accuracy}):"
                     f" {entry.get('status', 'pass' if entry['passed'] else 'fail').upper()}\n\n"
                     + table(["method", "metric", "score at each level", "slope [95% CI]", "p", "trend"],
                             rows))
    return "\n\n".join(parts)


def plot_sanity(std: dict[str, Any], metrics: tuple[str, ...], path: Path, title: str) -> None:
    """One panel per (metric, check): the score against the level, one line per method, CI bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {"mege": "MeGe", "reco": "ReCo", "mu_fidelity": "muF"}
    fig, axes = plt.subplots(len(metrics), len(CHECKS), figsize=(5.2 * len(CHECKS), 3.4 * len(metrics)),
                             squeeze=False)
    for col, check in enumerate(CHECKS):
        entry = std["sanity_checks"][check]
        for row, metric in enumerate(metrics):
            ax = axes[row][col]
            for method, data in entry["explainers"].items():
                xs = [lv["level"] for lv in data["levels"]]
                ys = [lv["scores"][metric]["value"] for lv in data["levels"]]
                if any(y is None for y in ys):
                    continue
                style = {"color": "0.5", "linestyle": "--"} if method == "random" else {}
                (line,) = ax.plot(xs, ys, marker="o", label=SHORT[method], **style)
                lows = [lv["scores"][metric]["ci_low"] for lv in data["levels"]]
                highs = [lv["scores"][metric]["ci_high"] for lv in data["levels"]]
                if None not in lows and None not in highs:
                    ax.fill_between(xs, lows, highs, color=line.get_color(), alpha=0.12)
            ax.set_xlabel(f"share of {'conv weights noised' if check == CHECKS[0] else 'labels wrong'}")
            ax.set_ylabel(labels[metric])
            ax.set_title(f"{labels[metric]} - {check.replace('_', ' ')}", fontsize=10)
            ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _trend(std: dict[str, Any], check: str, method: str, metric: str) -> dict[str, Any]:
    return std["sanity_checks"][check]["explainers"][method]["trend"][metric]


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def judge_claims(std: dict[str, Any], lip: dict[str, Any]) -> list[dict[str, Any]]:
    """Each qualitative claim of the paper, whether it held here, and the evidence."""
    methods = [m for m in METHODS if m in std["explainers"]]
    claims = []

    def add(claim: str, source: str, held: int, total: int, evidence: str, *, most: bool = False) -> None:
        # "most": the paper itself claims it for all methods but one (Grad-CAM++).
        if held == total:
            verdict = "held"
        elif most and held >= total - 1:
            verdict = "held as in the paper (all but one)"
        else:
            verdict = "partly" if held else "did not hold"
        claims.append({"claim": claim, "paper": source, "verdict": verdict, "held": held,
                       "total": total, "evidence": evidence})

    for check, fig in zip(CHECKS, ("weight randomisation", "label shuffling"), strict=True):
        for metric, label in (("mege", "MeGe"), ("reco", "ReCo")):
            falls = [m for m in methods if (t := _trend(std, check, m, metric))["p_value"] is not None
                     and t["slope"] is not None and t["p_value"] < ALPHA]
            rest = [f"{SHORT[m]} p={_p(_trend(std, check, m, metric)['p_value'])}" for m in methods
                    if m not in falls]
            add(f"{label} falls as the predictor is degraded by {fig}", "Fig. 3, section 4.2",
                len(falls), len(methods),
                f"significant fall (one-sided p < {ALPHA}) for {', '.join(SHORT[m] for m in falls) or 'none'}"
                + (f"; not for {', '.join(rest)}" if rest else ""))
        flat = [m for m in methods
                if (t := _trend(std, check, m, "mu_fidelity"))["ci_low"] is not None
                and t["ci_low"] <= 0 <= t["ci_high"]]
        slopes = ", ".join(f"{SHORT[m]} {fmt({'value': (t := _trend(std, check, m, 'mu_fidelity'))['slope'], 'ci_low': t['ci_low'], 'ci_high': t['ci_high']})}"  # noqa: E501
                           for m in methods)
        add(f"muF does not react to {fig}", "Fig. 4, section 4.3", len(flat), len(methods),
            f"slope per unit of degradation, 95% CI containing 0 for {len(flat)} of {len(methods)}: {slopes}")
    for metric, label, number in (("mege", "MeGe", 2), ("reco", "ReCo", 3)):
        higher = [m for m in methods if score(lip, m, metric)["value"] is not None
                  and score(std, m, metric)["value"] is not None
                  and score(lip, m, metric)["value"] > score(std, m, metric)["value"]]
        significant = [m for m in higher if score(lip, m, metric)["ci_low"] is not None
                       and score(std, m, metric)["ci_high"] is not None
                       and score(lip, m, metric)["ci_low"] > score(std, m, metric)["ci_high"]]
        lower = [m for m in methods if m not in higher]
        add(f"1-Lipschitz CNNs give higher {label} than standard CNNs of comparable accuracy",
            f"Table {number}, section 4.5 ('almost all methods')", len(higher), len(methods),
            f"higher for {', '.join(SHORT[m] for m in higher) or 'none'} (CIs disjoint for "
            f"{', '.join(SHORT[m] for m in significant) or 'none'}); not higher for "
            f"{', '.join(SHORT[m] for m in lower) or 'none'}; accuracy standard "
            f"{std['accuracy']['value']:.3f} vs 1-Lipschitz {lip['accuracy']['value']:.3f}", most=True)
    mu = {m: score(std, m, "mu_fidelity")["value"] for m in methods}
    cam, grad = ("gradcam", "gradcam_pp", "rise"), ("saliency", "gradient_input", "integrated_gradients",
                                                     "smoothgrad")
    if all(mu.get(m) is not None for m in (*cam, *grad)):
        mean_cam, mean_grad = sum(mu[m] for m in cam) / 3, sum(mu[m] for m in grad) / 4
        add("Grad-CAM, Grad-CAM++ and RISE are more faithful (muF) than the gradient methods",
            "Tables 1 and 5, section 4.4", int(mean_cam > mean_grad), 1,
            f"mean muF {mean_cam:.3f} (GC, G+, RI) vs {mean_grad:.3f} (SA, GI, IG, SG)")
    mege = {m: score(std, m, "mege")["value"] for m in methods}
    ranked = sorted((v for v in mege.values() if v is not None), reverse=True)
    if len(ranked) == len(methods):
        median = ranked[len(ranked) // 2]
        top = [m for m in ("gradient_input", "integrated_gradients") if mege[m] > median]
        add("Gradient x Input and Integrated Gradients (element-wise product with the input) have a "
            "high MeGe", "section 4.4", len(top), 2,
            f"MeGe GI {mege['gradient_input']:.3f}, IG {mege['integrated_gradients']:.3f}; "
            f"median of the 7 methods {median:.3f}")
    if "random" in std["explainers"]:
        beaten = [m for m in methods if mege[m] is not None
                  and mege[m] > score(std, "random", "mege")["value"]]
        add("Every method's MeGe beats a model-independent random explanation (control)",
            "not in the paper: a control auditkit adds", len(beaten), len(methods),
            f"random MeGe {score(std, 'random', 'mege')['value']:.3f}; beaten by "
            f"{', '.join(SHORT[m] for m in beaten) or 'none'}")
    return claims


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(BASE_POLICY), default="digits")
    parser.add_argument("--data", type=Path, help="folder of the data set (not for digits)")
    parser.add_argument("--max-images", type=int, help="audit a stratified subsample of this size")
    parser.add_argument("--out", type=Path, help="output folder (default out/reproduce/<dataset>)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--model", choices=("policy", "small_cnn"), default="policy",
                        help="the standard audit's model: the shipped policy's (ResNet-18 outside digits, "
                             "as the paper) or auditkit's small_cnn with its measured recipe (CPU-sized)")
    parser.add_argument("--rise-masks", type=int, help="RISE masks (default: the policy's)")
    parser.add_argument("--weights", choices=("paper", "graded"), default="paper",
                        help="weight randomisation: the paper's shares of noised conv weights, or the "
                             "shipped policy's graded levels (target accuracies)")
    args = parser.parse_args(argv)
    if args.dataset != "digits" and args.data is None:
        parser.error(f"--data is required for {args.dataset}")
    out = args.out or ROOT / "out" / "reproduce" / args.dataset
    started = time.perf_counter()
    results = {}
    for variant in ("standard", "lipschitz"):
        print(f"audit {variant} ...", flush=True)
        policy = build_policy(args.dataset, variant, args.data, args.max_images, out, args.model,
                              args.rise_masks, args.weights)
        results[variant] = audit(policy, args.device, not args.no_progress)
    std, lip = results["standard"], results["lipschitz"]
    plot_sanity(std, ("mege", "reco"), out / "fig3_sanity.png",
                f"MeGe and ReCo under degradation ({args.dataset}; Fig. 3 of the paper)")
    plot_sanity(std, ("mu_fidelity",), out / "fig4_fidelity.png",
                f"muF under the same degradations ({args.dataset}; Fig. 4 of the paper)")
    claims = judge_claims(std, lip)
    sections = [
        table_sanity(std),
        table_lipschitz(std, lip, args.dataset, "mege"),
        table_lipschitz(std, lip, args.dataset, "reco"),
        table_scores(std, args.dataset),
        "Claims of the paper on this data\n\n" + table(
            ["claim", "source", "verdict", "evidence"],
            [[c["claim"], c["paper"], f"{c['verdict']} ({c['held']}/{c['total']})", c["evidence"]]
             for c in claims]),
    ]
    text = "\n\n".join(sections) + f"\n\nTotal wall time {time.perf_counter() - started:.0f} s.\n"
    (out / "tables.md").write_text(text)
    (out / "claims.json").write_text(json.dumps(claims, indent=2))
    print("\n" + text)
    print(f"figures, tables and claims written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
