"""predict / accuracy against hand-computed answers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from auditkit.models import ModelError, accuracy, build_model, predict


class _Fixed(nn.Module):
    """Logits = the first pixel of each channel-0 row: sample i predicts argmax of x[i, 0, 0, :K]."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout = nn.Dropout(0.9)  # would scramble predictions if left in training mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x[:, 0, 0, :4])


def test_predict_is_the_argmax_in_every_batching_and_restores_mode() -> None:
    x = torch.rand(11, 1, 4, 4)
    model = _Fixed().train()
    expected = x[:, 0, 0, :4].argmax(dim=1)
    for batch_size in (1, 3, 11, 512):
        got = predict(model, x, batch_size=batch_size)
        assert got.dtype == torch.int64 and got.device.type == "cpu"
        assert torch.equal(got, expected)
    assert model.training


def test_predict_converts_uint8_like_training() -> None:
    raw = torch.randint(0, 256, (6, 1, 4, 4), dtype=torch.uint8)
    model = build_model("small_cnn", in_channels=1, num_classes=3, image_size=(4, 4), base_filters=2)
    assert torch.equal(predict(model, raw), predict(model, raw.float() / 255.0))


def test_predict_on_no_images() -> None:
    assert predict(_Fixed(), torch.zeros(0, 1, 4, 4)).shape == (0,)


def test_accuracy_known_answer() -> None:
    x = torch.zeros(4, 1, 4, 4)
    x[torch.arange(4), 0, 0, torch.tensor([0, 1, 2, 3])] = 1.0
    assert accuracy(_Fixed(), x, torch.tensor([0, 1, 0, 3])) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("images", "labels", "match"),
    [
        (torch.zeros(2, 4, 4), torch.zeros(2, dtype=torch.int64), r"images must be a Tensor\[N, C, H, W\]"),
        (
            torch.zeros(2, 1, 4, 4),
            torch.zeros(3, dtype=torch.int64),
            r"labels must be a Tensor\[N\] with N = 2",
        ),
        (torch.zeros(0, 1, 4, 4), torch.zeros(0, dtype=torch.int64), r"accuracy is undefined on no images"),
    ],
)
def test_accuracy_invalid(images: torch.Tensor, labels: torch.Tensor, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        accuracy(_Fixed(), images, labels)


def test_invalid_batch_size_is_an_error_not_replaced() -> None:
    with pytest.raises(ValueError, match=r"batch_size must be >= 1, got 0"):
        predict(_Fixed(), torch.zeros(2, 1, 4, 4), batch_size=0)
