"""Features: what a feature network makes of a set of images.

Every metric works on features, never on pixels: FID, KID and the manifold
metrics on the embedding (`features`), IS and mode counts on the class
scores (`logits`). Which network produced them travels with them, so a
number is never reported without its extractor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from ganforge.errors import GanforgeError

EXTRACT_BATCH = 200


@dataclass
class Features:
    """Embeddings (N x D) and class logits (N x C) of one image set, float32 on the CPU."""

    features: torch.Tensor
    logits: torch.Tensor
    extractor: str

    def __len__(self) -> int:
        return len(self.features)


class FeatureExtractor(Protocol):
    """A frozen network mapping uint8 images to (features, logits)."""

    name: str  # shown in reports, e.g. "inception" or "classifier:mnist"
    key: str  # identifies the exact weights, for caches of real-data features

    def check_images(self, shape: tuple[int, int, int]) -> None:
        """Raise a GanforgeError if images of shape C x H x W cannot go in."""
        ...

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 N x C x H x W on the extractor's device -> (features, logits)."""
        ...


@torch.no_grad()
def extract_features(
    extractor: FeatureExtractor,
    images: torch.Tensor,
    device: torch.device,
    batch_size: int = EXTRACT_BATCH,
    what: str = "images",
) -> Features:
    """Features of uint8 images (N x C x H x W), computed in batches on `device`."""
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError("extract_features takes uint8 images of shape N x C x H x W")
    extractor.check_images(tuple(images.shape[1:]))
    feats, logits = [], []
    for part in images.split(batch_size):
        f, l = extractor(part.to(device))
        feats.append(f.float().cpu())
        logits.append(l.float().cpu())
    result = Features(torch.cat(feats), torch.cat(logits), extractor.name)
    check_finite(result, what)
    return result


def check_finite(features: Features, what: str) -> None:
    """NaN or infinite features poison every statistic: stop and say where."""
    for name, tensor in (("features", features.features), ("logits", features.logits)):
        bad = ~torch.isfinite(tensor).all(dim=1)
        if bad.any():
            first = int(bad.nonzero()[0])
            raise GanforgeError(
                f"{features.extractor} {name} of {int(bad.sum())} of the {len(tensor)} {what} are NaN or "
                f"infinite (first: image {first}); check the images and the feature network's weights"
            )
