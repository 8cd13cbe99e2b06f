"""The weight-randomisation settings: defaults per ``levels_by``, bad values as placed one-line
errors, and ``layers`` naming no weight of the model caught by ``auditkit validate``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from auditkit.cli import main
from auditkit.errors import PolicyError
from auditkit.policy import WeightRandomisationSpec, load_policy

from .conftest import MINIMAL

HERE = "  # <-"
SECTION = MINIMAL + "sanity_checks:\n  weight_randomisation:\n"


def test_defaults_follow_levels_by(write) -> None:
    graded = load_policy(write(MINIMAL)).sanity_checks.weight_randomisation
    assert (graded.levels_by, graded.levels, graded.layers) == ("accuracy", (0.25, 0.5, 0.75), "all")
    assert (graded.tolerance, graded.max_steps, graded.scale_bounds) == (0.02, 30, (0.001, 100.0))
    paper = load_policy(write(SECTION + "    levels_by: noise\n")).sanity_checks.weight_randomisation
    assert (paper.levels, paper.layers, paper.std, paper.scale) == ((0.05, 0.1, 0.3), ("conv",), 0.5,
                                                                    "absolute")
    written = load_policy(write(SECTION + "    levels_by: noise\n    levels: [0.2]\n    layers: all\n"))
    assert written.sanity_checks.weight_randomisation.levels == (0.2,)
    assert written.sanity_checks.weight_randomisation.layers == "all"
    assert WeightRandomisationSpec(levels_by="noise") == paper  # Python defaults agree with the loader's


@pytest.mark.parametrize(("text", "key", "message"), [
    (SECTION + "    levels: [0.5, 0.25]" + HERE, "sanity_checks.weight_randomisation.levels[1]",
     "must be greater than the item before it (0.5): the items must be strictly increasing"),
    (SECTION + "    levels: [0.5, 1.0]" + HERE, "sanity_checks.weight_randomisation.levels",
     "with levels_by: accuracy a level is a fraction of the way from the clean accuracy to chance, "
     "in (0, 1); 1 targets chance itself or below"),
    (SECTION + "    levels: [0.0, 0.5]" + HERE, "sanity_checks.weight_randomisation.levels[0]",
     "expected a number in (0, 1], got 0.0"),
    (SECTION + "    levels_by: acuracy" + HERE, "sanity_checks.weight_randomisation.levels_by",
     "did you mean 'accuracy'?"),
    (SECTION + "    layers: [convs]" + HERE, "sanity_checks.weight_randomisation.layers[0]",
     "did you mean 'conv'?"),
    (SECTION + "    layers: [conv, conv]" + HERE, "sanity_checks.weight_randomisation.layers[1]",
     "is listed twice"),
    (SECTION + "    layers: []" + HERE, "sanity_checks.weight_randomisation.layers",
     "expected a non-empty list (each item one of 'conv', 'linear', 'attention', 'norm'), got 0 items"),
    (SECTION + "    scale_bounds: [10, 1]" + HERE, "sanity_checks.weight_randomisation.scale_bounds[1]",
     "strictly increasing"),
    (SECTION + "    scale_bounds: [0.1, 1, 10]" + HERE, "sanity_checks.weight_randomisation.scale_bounds",
     "expected two scales [smallest, largest], got 3"),
    (SECTION + "    scale_bounds: [0, 10]" + HERE, "sanity_checks.weight_randomisation.scale_bounds[0]",
     "expected a number in (0, 1000000.0], got 0"),
    (SECTION + "    tolerance: -0.1" + HERE, "sanity_checks.weight_randomisation.tolerance",
     "expected a number in [0, 0.5], got -0.1"),
    (SECTION + "    max_steps: 1" + HERE, "sanity_checks.weight_randomisation.max_steps",
     "expected an integer in [2, 1000], got 1"),
])
def test_bad_settings_are_placed_one_line_errors(write, text: str, key: str, message: str) -> None:
    path = write(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.endswith(HERE))
    with pytest.raises(PolicyError, match=re.escape(message)) as info:
        load_policy(path)
    assert (info.value.key, info.value.line) == (key, line) and "\n" not in str(info.value)


OPS = "auditkit_sanity_ops"


def test_layers_naming_no_weight_of_the_model_fail_validate(tmp_path: Path, capsys) -> None:
    (tmp_path / f"{OPS}.py").write_text(
        "from torch import nn\n\n\ndef flat(num_classes, in_channels, image_size):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size[0] * image_size[1],"
        " num_classes))\n", encoding="utf-8")
    sys.modules.pop(OPS, None)
    text = (MINIMAL + f"model:\n  factory: {OPS}:flat\n" + "sanity_checks:\n  weight_randomisation:\n"
            "    layers: [conv, norm]" + HERE + "\n")
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        assert main(["validate", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err and "\n" not in err
        assert err == (f"auditkit: error: {path}:{len(text.splitlines())}: "
                       "sanity_checks.weight_randomisation.layers: the model has no weight of the "
                       "layers named (conv, norm) for weight randomisation to degrade: name others "
                       "(conv, linear, attention, norm) or all")
        # The same model with its linear layers named, or the check disabled, validates.
        path.write_text(text.replace("[conv, norm]", "[linear]"), encoding="utf-8")
        assert main(["validate", str(path)]) == 0
        path.write_text(text.replace("    layers: [conv, norm]", "    enabled: false\n    layers: [conv]"),
                        encoding="utf-8")
        assert main(["validate", str(path)]) == 0
    finally:
        sys.modules.pop(OPS, None)
