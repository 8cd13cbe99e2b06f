"""The audit on CUDA (skipped on a machine without a GPU; CI has none).

Maps stay on the device: the explanation pass copies to the host the same few tensors whatever the
number of batches. A deterministic CUDA audit gives the same numbers when run again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from auditkit.engine import AuditOptions, run_audit
from auditkit.engine.distances import collect_distances, pair_categories
from auditkit.explainers import make_explainer
from auditkit.models import build_model
from auditkit.policy import load_policy
from auditkit.results import AuditDocument, Reused

from .conftest import write_tiny_policy

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

aten = torch.ops.aten


class DeviceToHost(TorchDispatchMode):
    """Records the number of elements of every copy from a CUDA tensor to a CPU tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: list[int] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is aten._to_copy.default:
            source, target = args[0], out
        elif func is aten.copy_.default:
            target, source = args[0], args[1]
        else:
            return out
        if source.device.type == "cuda" and target.device.type == "cpu":
            self.copies.append(source.numel())
        return out


class Images:
    """The two attributes of an image data set that :func:`collect_distances` reads."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels
        self.image_size = tuple(images.shape[2:])

    def __len__(self) -> int:
        return len(self.labels)

    def x(self, part: slice) -> torch.Tensor:
        return self.images[part]


def test_the_explanation_pass_copies_no_map_to_the_host_per_batch() -> None:
    gen = torch.Generator().manual_seed(0)
    n, k = 96, 3
    data = Images(torch.rand(n, 1, 8, 8, generator=gen), torch.randint(0, 10, (n,), generator=gen))
    fold_of = torch.arange(n) % k
    models = [build_model("small_cnn", in_channels=1, num_classes=10, image_size=(8, 8)).cuda().eval()
              for _ in range(k)]
    explainers = [make_explainer("saliency", m) for m in models]
    categories = pair_categories(torch.randint(0, 10, (n, k), generator=gen), data.labels, fold_of)
    copied = {}
    for batch_size in (8, 32):
        with DeviceToHost() as watch:
            record = collect_distances(explainers, data, fold_of, categories,
                                       data.labels[:, None].expand(n, k), batch_size=batch_size,
                                       device=torch.device("cuda"), example_index=torch.tensor([5]))
        copied[batch_size] = watch.copies
        assert record.distances.device.type == "cpu" and record.distances.shape == (n, k - 1)
    # 12 batches or 3: the same copies (the distances, the degenerate flags, the one example's maps)
    assert copied[8] == copied[32]
    assert max(copied[8]) <= n * (k - 1)


def test_a_deterministic_cuda_audit_gives_the_same_numbers_again(tmp_path: Path) -> None:
    policy = load_policy(write_tiny_policy(tmp_path, epochs=5, explainers=("saliency", "gradcam")))
    runs = []
    for name in ("first", "second"):
        result = run_audit(AuditOptions(policy, tmp_path / name, device="cuda", progress=False))
        doc = AuditDocument.from_json((tmp_path / name / "results.json").read_bytes())
        runs.append(replace(doc, created="", run_seconds=0.0,
                            reused_from_earlier_run=Reused(folds=(), explainers=(), sanity=())))
        assert result.device.startswith("cuda")
    assert runs[0] == runs[1]
    assert runs[0].environment["device"].startswith("cuda")
