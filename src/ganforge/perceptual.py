"""VGG19 features for perceptual (content) losses: SRGAN and ESRGAN.

Ledig et al. compare super-resolved and HR images on the feature maps of
ImageNet-trained VGG19 after the activation of conv5_4 ("VGG54"); Wang et al.
(ESRGAN) take the same layer before its activation, where the features are
denser. The network is torchvision's VGG19 with its ImageNet weights
(torchvision's file, from a local path, the hub cache or a checked
download), cut after that layer and frozen; images in [-1, 1] are mapped to
[0, 1] and normalised with ImageNet's mean and deviation, as torchvision's
weights expect. Grey images are repeated over three channels.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.weights import PretrainedFile, load_tensors

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"  # torchvision's VGG19_Weights.IMAGENET1K_V1
VGG_WEIGHTS_ENV = "GANFORGE_VGG19_WEIGHTS"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Index of each named convolution in torchvision's vgg19().features (its
#: ReLU is the next index).
VGG19_LAYERS = {
    "conv1_1": 0, "conv1_2": 2, "conv2_1": 5, "conv2_2": 7, "conv3_1": 10, "conv3_4": 16,
    "conv4_1": 19, "conv4_4": 25, "conv5_1": 28, "conv5_4": 34,
}

VGG19_FILE = PretrainedFile(
    what="the VGG19 ImageNet weights for the perceptual loss",
    url=VGG19_URL,
    option="-X vgg_weights",
    usage="-X vgg_weights=FILE",
    env=VGG_WEIGHTS_ENV,
    instead="or train with a pixel loss only (--model srresnet, or -X perceptual_weight=0)",
)


class VGGFeatures(nn.Module):
    """Frozen VGG19 features of images in [-1, 1] at `layer`, after its ReLU
    or (`before_activation`) before it."""

    def __init__(self, layer: str = "conv5_4", *, before_activation: bool = False, state: dict[str, torch.Tensor] | None = None) -> None:
        super().__init__()
        import torchvision

        if layer not in VGG19_LAYERS:
            raise GanforgeError(f"perceptual layer must be one of {', '.join(VGG19_LAYERS)}, got {layer!r}")
        end = VGG19_LAYERS[layer] + (0 if before_activation else 1)
        features = torchvision.models.vgg19(weights=None).features[: end + 1]
        if state is not None:
            # Only the layers up to `layer` are used: later ones and the classifier are left out.
            wanted = {f"features.{key}" for key in features.state_dict()}
            try:
                features.load_state_dict({key[len("features.") :]: value for key, value in state.items() if key in wanted})
            except RuntimeError as error:
                detail = " ".join(str(error).split())
                raise GanforgeError(f"the VGG19 weights do not fit torchvision's VGG19 ({detail[:200]})") from None
        self.features = features.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def pretrained(cls, layer: str = "conv5_4", *, before_activation: bool = False, weights: str | os.PathLike[str] | None = None) -> VGGFeatures:
        """With torchvision's ImageNet weights from `weights` (a .pth or
        .safetensors file), $GANFORGE_VGG19_WEIGHTS, the hub cache or a download."""
        file = VGG19_FILE.resolve(weights)
        return cls(layer, before_activation=before_activation, state=load_tensors(file, VGG19_FILE.option))

    def train(self, mode: bool = True) -> VGGFeatures:
        return super().train(False)  # a fixed measuring instrument: never in training mode

    def normalised(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] as the ImageNet-normalised RGB VGG19 was trained on."""
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        return ((images + 1.0) / 2.0 - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(self.normalised(images))

    def activations(self, images: torch.Tensor, layers: tuple[str, ...]) -> list[torch.Tensor]:
        """The features after the ReLU of each of `layers` (in network order,
        none deeper than this network's last layer), in one pass."""
        taps = {VGG19_LAYERS[name] + 1: name for name in layers}
        out, x = [], self.normalised(images)
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in taps:
                out.append(x)
        if len(out) != len(layers):
            raise GanforgeError(f"VGG19 layers {', '.join(layers)} reach past this network's last layer")
        return out
