"""An operator's learning algorithm, as ``training.function`` calls it (see the policy).

auditkit calls ``fit`` once per fold (and once per fold and label-shuffling level), with the fresh
model it built (normalisation inside, on the CPU), the fold's training images (float32 in [0, 1],
``[n, C, H, W]``), their labels (int64 ``[n]``), the fold's seed and the device. It returns the
trained model. Determinism is this function's business: it draws its shuffling from a generator
seeded with ``seed`` (auditkit has seeded the global RNG, which dropout uses, before building the
model).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def fit(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, seed: int,
        device: torch.device, epochs: int = 5, batch_size: int = 16,
        learning_rate: float = 2e-3) -> nn.Module:
    """AdamW with label smoothing and random horizontal flips; the last incomplete batch is dropped
    when it holds a single image (BatchNorm cannot normalise one image)."""
    shuffle = torch.Generator().manual_seed(seed)
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=1e-4)
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=shuffle)
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            if len(index) < 2:
                continue
            x, y = images[index].to(device), labels[index].to(device)
            flip = torch.rand(len(index), generator=shuffle) < 0.5
            x = torch.where(flip.to(device)[:, None, None, None], x.flip(-1), x)
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()
