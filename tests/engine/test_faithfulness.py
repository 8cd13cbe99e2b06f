"""muF in the engine: the explainers of one level share the fold models' score drops."""

from __future__ import annotations

import torch

from auditkit.data import ImageDataset
from auditkit.engine.crosstrain import FoldModel
from auditkit.engine.faithfulness import fidelity_values
from auditkit.explainers import make_explainer
from auditkit.metrics import ScoreDrops
from auditkit.models import build_model
from auditkit.policy.schema import MuFidelitySpec


def test_explainers_sharing_the_drops_get_the_values_each_gets_alone() -> None:
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(40, 1, 8, 8, generator=gen)
    dataset = ImageDataset.from_tensors("toy", images, torch.arange(40) % 3, ("a", "b", "c"), "test")
    torch.manual_seed(0)
    folds = [FoldModel(i, build_model("small_cnn", in_channels=1, num_classes=3, image_size=(8, 8)).eval(),
                       0.9, 20, f"sha{i}", False) for i in range(2)]
    fold_of = torch.arange(40) % 2
    sample = torch.arange(0, 40, 3)
    spec = MuFidelitySpec(n_subsets=16)
    targets = torch.arange(40) % 3
    args = (folds, dataset, fold_of, sample, spec, targets)
    options = {"seed": 4, "batch_size": 64, "device": torch.device("cpu")}
    drops: dict[int, ScoreDrops] = {}
    for name in ("saliency", "integrated_gradients"):
        explainers = [make_explainer(name, f.model, batch_size=64) for f in folds]
        alone = fidelity_values(explainers, *args, **options)
        shared = fidelity_values(explainers, *args, **options, drops=drops)
        assert torch.equal(shared, alone) and not alone.isnan().all()
        assert sorted(drops) == [0, 1]  # filled by the first explainer, reused by the second
    assert drops[0].drops.shape == (int((fold_of[sample] == 0).sum()), 16)
