"""``examples/own_model`` end to end at a tiny size: a torchvision MobileNetV3-Small trained by the
operator's own function on a generated ImageFolder of PNGs of three sizes, resized at load, with
ImageNet normalisation inside the model (k = 2, 12 images, 1 epoch, 2 explainers, no sanity checks)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import yaml

from auditkit.engine import AuditOptions, run_audit
from auditkit.policy import load_policy
from auditkit.results import AuditDocument

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own_model"


def test_own_model_example_runs_and_names_the_model_and_the_function(tmp_path: Path) -> None:
    folder = tmp_path / "own_model"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("data", "out", "__pycache__"))
    spec = importlib.util.spec_from_file_location("make_data", folder / "make_data.py")
    make_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_data)
    make_data.write_dataset(folder / "data", per_class=4)

    policy_path = folder / "policy.yaml"
    text = yaml.safe_load(policy_path.read_text(encoding="utf-8"))
    text["preprocessing"]["resize"] = [40, 40]
    text["training"]["kwargs"] = {"epochs": 1, "batch_size": 8}
    text["cross_validation"]["k"] = 2
    text["explainers"] = [{"name": "saliency"}, {"name": "gradcam"}]
    text["metrics"] = {"explain_batch_size": 12, "mu_fidelity": {"samples": 4, "n_subsets": 4},
                       "bootstrap": {"resamples": 20}}
    policy_path.write_text(yaml.safe_dump(text, sort_keys=False), encoding="utf-8")

    sys.modules.pop("own_model_training", None)
    try:
        run_audit(AuditOptions(load_policy(policy_path), folder / "out", device="cpu", progress=False))
    finally:
        sys.modules.pop("own_model_training", None)

    written = (folder / "out" / "results.json").read_bytes()
    results = AuditDocument.from_json(written)
    model, training = results.model, results.training
    assert (model.source, model.architecture) == ("torchvision", "mobilenet_v3_small")
    assert model.cls == "torchvision.models.mobilenetv3.MobileNetV3"
    assert json.loads(written)["model"]["class"] == model.cls  # the JSON key is "class"
    assert model.description.startswith("torchvision mobilenet_v3_small (MobileNetV3, ")
    assert model.target_layer == "features.12"
    assert model.normalize == {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    assert training.kind == "function"
    function = training.function
    assert function["path"] == "own_model_training:fit"
    assert function["qualified_name"] == "own_model_training.fit"
    source = folder / "own_model_training.py"
    assert function["source_file"] == str(source)
    assert function["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert results.preprocessing["resize"] == [40, 40]
    assert results.dataset.image_shape == (3, 40, 40) and results.dataset.n_images == 12
    assert results.system.name == "Shape sorter"
    assert len(results.folds) == 2 and set(results.explainers) == {"saliency", "gradcam"}
    assert "small_cnn" not in written.decode("utf-8")  # no family the run did not use

    # Page one names that system, that model and that function (the HTML is enough here).
    from auditkit.report import render_report
    from auditkit.report.inputs import load_document

    out = folder / "out"
    html = render_report(load_document(out), out, formats=("html",))[0].read_text(encoding="utf-8")
    summary = html.split('<section id="summary">', 1)[1].split("</section>", 1)[0]
    assert ("<dt>System</dt><dd>Shape sorter, version 1.0; owner Example operator; contact "
            "audit@example.org</dd>") in summary
    assert "<dt>Intended purpose</dt><dd>Sort pictures of bars, discs and rings" in summary
    assert model.description in summary
    assert f"the operator&#39;s function own_model_training.fit (source SHA-256 " \
           f"{function['source_sha256'][:16]}…)" in summary
