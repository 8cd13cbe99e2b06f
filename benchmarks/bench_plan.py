"""The cost plan against the measured time: ``auditkit plan``'s estimate, then the audit, on three policies.

Not a test (pytest collects only ``test_*.py``). For each policy: the plan (:func:`auditkit.cost.make_plan`:
counts from the policy, rates timed on a fresh copy of its model on this device), then the audit
itself (:func:`auditkit.engine.run_audit`, the plan handed over as ``AuditOptions.plan``, so
results.json records each stage's estimate beside its measured time), and a table of the totals
and of the largest stages:

    nice -n 5 .venv/bin/python -u benchmarks/bench_plan.py [OUT]

The three policies, each sized to audit in minutes on 2 CPU cores:

- ``digits-demo-subsampled``: ``policies/digits.yaml`` (the demo: every method and control, both
  sanity checks at three levels, the properties) on a stratified 60 of its 1,797 images, 5 epochs;
- ``imagefolder-pngs``: an ImageFolder policy over 120 generated 16 x 16 RGB PNGs (two classes: a
  bright square in one corner or the other, on noise), ``small_cnn``, four methods, both checks;
- ``torchvision-resnet18``: 60 such PNGs at 32 x 32 through ``model.torchvision: resnet18`` (the
  operator's torchvision architecture, trained from scratch), three methods, weight randomisation.

The target: every total within a factor 1.3 of its estimate (measured / estimated in [0.77, 1.3]).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def write_pngs(folder: Path, per_class: int, side: int, seed: int = 0) -> Path:
    """Two classes of ``side`` x ``side`` RGB PNGs: a bright square top-left (``a``) or bottom-right
    (``b``) on uniform noise."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(("a", "b")):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 120, (side, side, 3), dtype=np.uint8)
            q = side // 3
            at = slice(0, q) if c == 0 else slice(side - q, side)
            pixels[at, at] = rng.integers(180, 256, (q, q, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{i:04d}.png")
    return folder


def demo_policy() -> dict[str, Any]:
    policy = yaml.safe_load((ROOT / "policies" / "digits.yaml").read_text(encoding="utf-8"))
    policy["name"] = "digits-demo-subsampled"
    policy["dataset"]["max_images"] = 60
    policy["training"]["epochs"] = 5
    policy["run"] = {"device": "auto"}
    policy.pop("deployed", None)  # the demo's checkpoint is made by `make demo`; not timed here
    return policy


def folder_policy(name: str, path: Path, model: dict[str, Any], explainers: list[dict[str, Any]],
                  sanity: dict[str, Any], epochs: int) -> dict[str, Any]:
    return {
        "version": 1, "name": name,
        "dataset": {"kind": "imagefolder", "path": str(path)},
        "model": model,
        "training": {"epochs": epochs, "batch_size": 32, "learning_rate": 0.005},
        "cross_validation": {"k": 4, "max_accuracy_spread": 1.0},
        "explainers": explainers,
        "metrics": {"explain_batch_size": 128, "mu_fidelity": {"samples": 100, "n_subsets": 64},
                    "bootstrap": {"resamples": 500}, "reco_chance": {"permutations": 500}},
        "properties": {"robustness": {"enabled": True, "samples": 50, "perturbations": 5},
                       "invariance": {"enabled": False}, "completeness": {"enabled": True, "samples": 50}},
        "sanity_checks": sanity,
    }


def policies(data: Path) -> list[dict[str, Any]]:
    small = write_pngs(data / "pngs16", 60, 16)
    large = write_pngs(data / "pngs32", 30, 32, seed=1)
    both = {"weight_randomisation": {"levels": [0.5]}, "label_shuffling": {"levels": [0.3]}}
    return [
        demo_policy(),
        folder_policy("imagefolder-pngs", small, {"family": "small_cnn"},
                      [{"name": "saliency"}, {"name": "integrated_gradients", "steps": 8},
                       {"name": "gradcam"}, {"name": "rise", "masks": 100}, {"name": "random"}], both, 5),
        folder_policy("torchvision-resnet18", large, {"torchvision": "resnet18"},
                      [{"name": "saliency"}, {"name": "gradcam"}, {"name": "smoothgrad", "samples": 4},
                       {"name": "random"}],
                      {"weight_randomisation": {"levels": [0.5]}, "label_shuffling": {"enabled": False}}, 1),
    ]


def measure(policy: dict[str, Any], out: Path) -> tuple[Any, Any, float]:
    """The plan, the audit's results.json ``plan`` section and the plan's own seconds."""
    from auditkit.cost import make_plan
    from auditkit.engine import AuditOptions, run_audit
    from auditkit.policy import policy_from_dict

    loaded = policy_from_dict(policy)
    start = time.perf_counter()
    made = make_plan(loaded, device=loaded.run.device)
    planning = time.perf_counter() - start
    print("\n".join(made.lines()), flush=True)
    result = run_audit(AuditOptions(loaded, out, device=loaded.run.device, progress=False,
                                    plan=made.record()))
    return made, result.document().plan, planning


def main(argv: list[str]) -> None:
    base = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="auditkit-bench-plan-"))
    rows, stages = [], []
    for policy in policies(base / "data"):
        made, done, planning = measure(policy, base / policy["name"])
        ratio = done.measured_seconds / done.estimated_seconds
        rows.append(f"| {policy['name']} | {made.images} | {done.device} | {planning:.1f} | "
                    f"{done.estimated_seconds:.1f} | {done.measured_seconds:.1f} | {ratio:.2f}x | "
                    f"{'yes' if 1 / 1.3 <= ratio <= 1.3 else 'no'} |")
        for s in done.stages[:4]:
            if s.estimated_seconds:
                stages.append(f"| {policy['name']} | {s.stage} | {s.estimated_seconds:.1f} | "
                              f"{s.measured_seconds or 0:.1f} | "
                              f"{(s.measured_seconds or 0) / s.estimated_seconds:.2f}x |")
    print("\n| policy | images | device | plan s | estimated s | measured s | measured / estimated | "
          "within 1.3x |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print("\n| policy | largest stages | estimated s | measured s | measured / estimated |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(stages))


if __name__ == "__main__":
    main(sys.argv[1:])
