"""Latency of one decision sheet (``auditkit explain``), and its ratio to the compute floor.

Not a test. Under a signed audit with a deployed checkpoint (the demo's: ``make demo`` writes it to
``out/digits``), this loads the audited system once (verification, models) and then, for each image:

* ``figures``: :func:`auditkit.decision.figures.decide`, everything the sheet computes;
* ``floor``: the model evaluations a sheet cannot do without, timed bare on the same models: each
  certified method's explanation of the decided class by the deployed model and by the k fold
  models, and one forward pass of each model (the decision, the fold models' decisions);
* ``render``: sheet.json, sheet.html and sheet.pdf in memory (the overlay, WeasyPrint);

and prints the median of each over the images, and ``figures / floor``: how much a sheet's figures
cost beyond the model evaluations themselves (1.0: nothing). Loading is timed once, apart.

    .venv/bin/python benchmarks/bench_explain.py AUDIT_DIR IMAGE... --trust CA.pem [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from auditkit.decision.figures import decide
from auditkit.decision.inputs import decisions, read_image
from auditkit.decision.render import render
from auditkit.decision.system import AuditedSystem, load_system
from auditkit.engine.preflight import declared_resize


def _seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def floor(system: AuditedSystem, image: torch.Tensor, c: int) -> None:
    """The model evaluations of one sheet, bare: one forward pass of each model, and each certified
    method's maps of class ``c`` by the deployed model and the k fold models."""
    x, target = image[None], torch.tensor([c])
    with torch.no_grad():
        for model in (system.model, *system.folds):
            model(x)
    for name in system.methods:
        own, folds = system.explainers(name)
        for explainer in (own, *folds):
            explainer.explain(x, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audit", type=Path)
    parser.add_argument("images", type=Path, nargs="+")
    parser.add_argument("--trust", type=Path, action="append", default=[])
    parser.add_argument("--repeat", type=int, default=5, help="passes over the images (first: warm-up)")
    args = parser.parse_args()
    start = time.perf_counter()
    system = load_system(args.audit, trust=args.trust)
    print(f"loaded in {time.perf_counter() - start:.2f} s: {len(system.methods)} certified methods "
          f"({', '.join(system.methods)}), {len(system.folds)} fold models"
          + (f" ({system.folds_unavailable})" if system.folds_unavailable else ""))
    resize = declared_resize(system.policy)
    shape = system.document.dataset.image_shape
    images = [read_image(d.image, shape, resize) for d in decisions(args.images)]
    times: dict[str, list[float]] = {"figures": [], "floor": [], "render": []}
    for rep in range(args.repeat):
        for image, digest in images:
            made: list[object] = []
            figures = _seconds(lambda: made.append(decide(  # noqa: B023
                system, image, decision_id="bench", image_sha256=digest,  # noqa: B023
                created="2026-01-01T00:00:00")))
            sheet, maps = made[0]  # type: ignore[misc]
            bare = _seconds(lambda: floor(system, image, sheet.decision.predicted.index))  # noqa: B023
            drawn = _seconds(lambda: render(sheet, image.numpy(), maps))  # noqa: B023
            if rep:  # the first pass warms up
                times["figures"].append(figures)
                times["floor"].append(bare)
                times["render"].append(drawn)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"per decision (median of {len(times['floor'])}): figures {med['figures'] * 1e3:.1f} ms, floor "
          f"{med['floor'] * 1e3:.1f} ms, figures / floor {med['figures'] / med['floor']:.2f}; "
          f"render {med['render'] * 1e3:.0f} ms; sheet total {(med['figures'] + med['render']) * 1e3:.0f} ms")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
