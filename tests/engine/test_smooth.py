"""The smooth control matched to each method (auditkit/engine/smooth.py), in a tiny audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from auditkit.engine.distances import DistanceRecord
from auditkit.engine.smooth import SIGMA_STEP, matched_width
from auditkit.explainers.random_smooth import RandomSmooth, smoothness_width


def _record(examples: torch.Tensor) -> DistanceRecord:
    empty = torch.empty(0, 0)
    return DistanceRecord(empty, empty, empty, examples, torch.arange(examples.shape[0]), empty)


def test_matched_width_is_the_example_maps_width_rounded() -> None:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 2)).eval()
    x = torch.rand(12, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    maps = RandomSmooth(model, sigma=1.7).explain(x, torch.zeros(12, dtype=torch.long))
    examples = maps.view(6, 2, 32, 32)  # [E, k, H, W] as a pass keeps them
    width = matched_width(_record(examples))
    assert width == pytest.approx(smoothness_width(maps), abs=SIGMA_STEP / 2 + 1e-9)
    assert round(width / SIGMA_STEP, 6) == round(width / SIGMA_STEP)
    assert width == pytest.approx(1.7, rel=0.1)


@pytest.fixture(scope="module")
def smooth_run(tmp_path_factory: pytest.TempPathFactory, policy_writer) -> Path:
    """A tiny audit of Saliency and Grad-CAM with the smooth control declared at 2 px."""
    from auditkit.cli import main

    folder = tmp_path_factory.mktemp("smooth_run")
    policy = policy_writer(folder, epochs=4, explainers=("saliency", "gradcam", "random_smooth"),
                               settings={"random_smooth": {"sigma": 2.0}})
    assert main(["run", str(policy), "--out", str(folder / "out"), "--quiet"]) in (0, 1)
    return folder / "out"


def test_each_method_gets_the_control_at_its_own_width(smooth_run: Path) -> None:
    doc = json.loads((smooth_run / "results.json").read_text())["explainers"]
    assert "smooth_control" not in doc["random_smooth"]  # a control is compared with nothing
    widths = {name: doc[name]["smooth_control"]["sigma"] for name in ("saliency", "gradcam")}
    assert widths["gradcam"] > widths["saliency"]  # an upsampled coarse map is the wider
    for name, sigma in widths.items():
        saved = torch.load(smooth_run / "work" / f"explainer_{name}.pt", weights_only=True)
        record = DistanceRecord.from_state(saved["record"])
        assert sigma == matched_width(record)  # measured on the method's own maps
        control = doc[name]["smooth_control"]["scores"]
        assert set(control) == set(doc[name]["scores"])
        assert (smooth_run / "work" / f"explainer_smooth_{name}_random_smooth.pt").is_file()


def test_the_declared_control_is_scored_at_its_declared_width(smooth_run: Path) -> None:
    doc = json.loads((smooth_run / "results.json").read_text())["explainers"]
    assert doc["random_smooth"]["settings"]["sigma"] == 2.0
    assert doc["random_smooth"]["scores"]["mege"]["value"] is not None
