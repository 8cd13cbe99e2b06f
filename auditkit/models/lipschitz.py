"""``lipschitz_cnn``: the 1-Lipschitz network of Fel et al., Table 4, built with ``deel.torchlip``."""

from __future__ import annotations

from typing import ClassVar

import torch
from deel import torchlip
from torch import nn


class LipschitzCNN(nn.Module):
    """SpectralConv(b)-LPReLU-pool-drop-SpectralConv(2b)-LPReLU-pool-drop-SpectralConv(2b)-pool-linear.

    Table 4 of the paper (b = 48, dropout 0.2), translated to ``deel.torchlip`` (the paper used its
    Keras twin, Deel-Lip):

    - ``Conv2D`` -> :class:`torchlip.SpectralConv2d`, kernel 3, padding 1 (the table gives no kernel;
      3x3 "same" keeps the map sizes of 8x8, 28x28 and 32x32 inputs computable). Its weight is
      re-parametrised (spectral norm, then Björck orthonormalisation, then the 1/3 factor of a 3x3
      zero-padded convolution), so each convolution is at most 1-Lipschitz.
    - ``PReLU`` -> :class:`torchlip.LPReLU` with one slope per channel, clipped to [-1, 1], hence
      1-Lipschitz (torchlip offers no plain PReLU; GroupSort/FullSort would change the architecture).
    - ``AvgPooling2D((2, 2))`` -> :class:`torchlip.ScaledAvgPool2d`, i.e. average pooling times 2, the
      factor that makes a 2x2 average 1-Lipschitz in L2. Three pools floor-halve the size thrice.
    - ``Dense`` -> :class:`torchlip.SpectralLinear` (spectral norm + Björck).
    - ``Dropout(0.2)`` after the first two pools: ``dropout`` sets both rates; there is no dropout
      before the dense layer (Table 4 has none there).

    In eval mode the network is 1-Lipschitz in L2 from the input to the logits. Training runs the
    power iteration and Björck steps at every forward pass; in eval mode the cached orthonormal weight
    (a buffer saved in the ``state_dict``) is used, so a checkpoint reloads to identical outputs.
    ``torchlip.vanilla_model`` could export plain ``Conv2d``/``Linear`` layers; auditkit keeps the
    torchlip modules so that a model reloads from its own ``state_dict``.

    Args:
        in_channels: C, channels of the input images.
        num_classes: number of logits.
        base_filters: b, width of the first convolution; the other two have 2b (Table 4: b = 48).
        image_size: (H, W), both >= 8; fixes the input size of the dense layer.
        dropout: drop probability of the two feature dropouts, in [0, 1).

    Shapes:
        input ``Tensor[N, C, H, W]`` float in [0, 1]; output logits ``Tensor[N, num_classes]``;
        ``target_layer`` (last SpectralConv2d) output ``Tensor[N, 2b, H//4, W//4]``.

    >>> net = LipschitzCNN(1, 10, base_filters=48, image_size=(8, 8), dropout=0.2)
    >>> net.eval()(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    loss_temperature: ClassVar[float] = 100.0
    """Temperature tau of the training loss, read by :func:`~auditkit.models.train_model`.

    A 1-Lipschitz network's logit gaps are at most ||x - x'||, so cross-entropy on raw logits stays
    far from its optimum; torchlip's remedy is cross-entropy of tau * logits. Measured on digits (two
    stratified folds, Adam, lr 5e-3 then 2e-3, 20 epochs): tau = 1 gives 81-83% held-out accuracy,
    30 gives 92-94%, 100 gives 96-97%; 300 diverged (NaN in the Björck step) on one fold.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        base_filters: int,
        image_size: tuple[int, int],
        dropout: float,
    ) -> None:
        super().__init__()
        self._in_channels = in_channels
        self._num_classes = num_classes
        self._widths = (base_filters, 2 * base_filters, 2 * base_filters)
        self._flat = self._widths[-1] * (image_size[0] // 8) * (image_size[1] // 8)
        self._dropout = dropout
        self.features, self.head = self._layers()

    def _layers(self) -> tuple[nn.Sequential, nn.Sequential]:
        w1, w2, w3 = self._widths
        features = nn.Sequential(
            torchlip.SpectralConv2d(self._in_channels, w1, 3, padding=1),
            torchlip.LPReLU(w1),
            torchlip.ScaledAvgPool2d((2, 2)),
            nn.Dropout(self._dropout),
            torchlip.SpectralConv2d(w1, w2, 3, padding=1),
            torchlip.LPReLU(w2),
            torchlip.ScaledAvgPool2d((2, 2)),
            nn.Dropout(self._dropout),
            torchlip.SpectralConv2d(w2, w3, 3, padding=1),
        )
        head = nn.Sequential(
            torchlip.ScaledAvgPool2d((2, 2)),
            nn.Flatten(),
            torchlip.SpectralLinear(self._flat, self._num_classes),
        )
        return features, head

    @property
    def target_layer(self) -> nn.Module:
        """The last SpectralConv2d; its output ``[N, 2b, H//4, W//4]`` is the map Grad-CAM uses."""
        return self.features[-1]

    def reset_parameters(self) -> None:
        """Re-draw every weight from the global RNG by rebuilding the layers.

        torchlip draws its orthogonal weights and power-iteration vectors in its constructors and
        has no re-initialisation method, so the layers are rebuilt (same device and dtype).
        """
        reference = self.head[-1].parametrizations.weight.original
        features, head = self._layers()
        self.features = features.to(reference)
        self.head = head.to(reference)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, num_classes]`` of images ``x: [N, C, H, W]``."""
        return self.head(self.features(x))
