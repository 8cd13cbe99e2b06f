"""The input control: its map is sum_c |x_c|, whatever the model, and it is a control."""

from __future__ import annotations

import torch

from auditkit.explainers import EXPLAINERS, make_explainer
from auditkit.metrics import spearman_distance


def test_map_is_the_absolute_input_summed_over_channels() -> None:
    x = torch.randn(5, 3, 6, 7, generator=torch.Generator().manual_seed(0))
    model_a = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 6 * 7, 4)).eval()
    model_b = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 6 * 7, 4)).eval()
    maps = make_explainer("input", model_a, batch_size=2).explain(x, torch.tensor([0, 1, 2, 3, 0]))
    assert maps.shape == (5, 1, 6, 7) and maps.dtype == torch.float32
    expected = torch.stack([x[:, c].abs() for c in range(3)]).sum(0)[:, None]
    torch.testing.assert_close(maps, expected)
    other = make_explainer("input", model_b).explain(x, torch.tensor([3, 2, 1, 0, 1]))
    torch.testing.assert_close(maps, other)  # nothing of the model or the class
    assert float(spearman_distance(maps.flatten(1), other.flatten(1)).max()) == 0.0


def test_it_is_a_control_with_no_settings() -> None:
    cls = EXPLAINERS["input"]
    assert cls.control and not cls.seeded and cls.settings == {} and cls.completeness_baseline is None
