"""The input control: :class:`InputControl`, a map that is the image itself."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from auditkit.explainers.base import Explainer


class InputControl(Explainer):
    """``Phi(x) = sum_c |x_c|``, ``Tensor[N, 1, H, W]``: the image's own intensity, whatever the model.

    A control, like the random baseline: a method whose maps rank pixels much as the input does
    (Gradient x Input on images with a black background, Adebayo et al. 2018's "edge detector"
    finding) can score well on MeGe because every model sees the same silhouette, not because the
    models agree. Pixels are the [0, 1] values before any normalisation of the model (the audit
    explains the wrapped model), so the map is the image's brightness summed over channels.

    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
    >>> x = torch.tensor([[[[0.0, 0.5]], [[1.0, -0.5]]]])
    >>> InputControl(model).explain(x, torch.tensor([1])).flatten().tolist()
    [1.0, 1.0]
    """

    name: ClassVar[str] = "input"
    label: ClassVar[str] = "Input control"
    control: ClassVar[bool] = True
    pixel_wise: ClassVar[bool] = False

    @staticmethod
    def of(x: Tensor) -> Tensor:
        """The control map ``sum_c |x_c|`` of images ``x`` ``[N, C, H, W]``, ``[N, 1, H, W]`` float32."""
        return x.abs().sum(dim=1, keepdim=True).float()

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        return self.of(x)
