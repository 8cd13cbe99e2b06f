"""Grad-CAM's layer and why: the policy's, the network's own, a transformer's last block's first norm
(never the patch embedding), else the last convolution."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import VisionTransformer
from torchvision.models.swin_transformer import SwinTransformer, SwinTransformerBlockV2

from auditkit.models import LayerChoice, build_model, build_torchvision, choose_layer


def _vit(layers: int = 3) -> nn.Module:
    return VisionTransformer(image_size=32, patch_size=8, num_layers=layers, num_heads=2, hidden_dim=32,
                             mlp_dim=64, num_classes=3)


def _swin(**kwargs) -> nn.Module:
    return SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 3], num_heads=[2, 2],
                           window_size=[2, 2], num_classes=3, **kwargs)


def test_a_vit_gets_its_last_blocks_first_norm_not_the_patch_embedding() -> None:
    net = _vit(layers=3)
    choice = choose_layer(net)
    assert choice == LayerChoice("encoder.layers.encoder_layer_2.ln_1", "the last EncoderBlock's first norm")
    assert net.get_submodule(choice.name) is net.encoder.layers[-1].ln_1
    assert choice.name != "conv_proj"


def test_a_swin_gets_its_last_stages_last_blocks_norm1() -> None:
    net = _swin()
    choice = choose_layer(net)
    assert choice == LayerChoice("features.3.2.norm1", "the last SwinTransformerBlock's first norm")
    assert net.get_submodule(choice.name) is net.features[-1][-1].norm1
    v2 = _swin(block=SwinTransformerBlockV2)
    why = "the last SwinTransformerBlockV2's first norm"
    assert choose_layer(v2) == LayerChoice("features.3.2.norm1", why)


def test_a_cnn_gets_its_last_convolution_and_a_family_its_own_layer() -> None:
    resnet = build_torchvision("resnet18", num_classes=3, in_channels=1)
    assert choose_layer(resnet) == LayerChoice("layer4.1.conv2", "the last nn.Conv2d")
    small = build_model("small_cnn", in_channels=1, num_classes=3, image_size=(8, 8))
    own = choose_layer(small)
    assert own.own and small.get_submodule(own.name) is small.target_layer
    assert own.reason == "SmallCNN's own target_layer"


def test_the_policys_layer_comes_first() -> None:
    assert choose_layer(_vit(), "conv_proj") == LayerChoice("conv_proj", "model.target_layer")


def test_no_layer_says_why() -> None:
    flat = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    assert choose_layer(flat) == LayerChoice(None, "Sequential has no nn.Conv2d")
    patches = nn.Sequential(nn.Conv2d(1, 4, 2, stride=2), nn.Flatten(2), nn.Linear(4, 4))
    why = ("Sequential has a token grid but no transformer block auditkit knows (its last convolution is "
           "the patch embedding)")
    assert choose_layer(patches, token_grid=True) == LayerChoice(None, why)
    patches.token_grid = (2, 2)  # declared by the network itself
    assert choose_layer(patches) == LayerChoice(None, why)


def test_torchvision_transformers_are_built_for_grey_images() -> None:
    torch.manual_seed(0)
    net = build_torchvision("vit_b_32", num_classes=3, in_channels=1, kwargs={"image_size": 32})
    assert net.conv_proj.in_channels == 1 and net(torch.rand(1, 1, 32, 32)).shape == (1, 3)
    assert choose_layer(net).name == "encoder.layers.encoder_layer_11.ln_1"
