"""Scores of filled holes: L1 and PSNR over the hole's pixels only.

The pixels outside the hole are the input's own in every method compared
(ganforge keeps them, OpenCV's inpainting too), so scores over the whole
image would mostly measure the hole's size. Images are uint8 (as saved);
L1 is in [0, 1] (per 255), PSNR in dB with peak 255, both per image over
its hole's pixels and channels, then averaged over the images.
"""

from __future__ import annotations

import torch


def hole_scores(completed: torch.Tensor, originals: torch.Tensor, masks: torch.Tensor) -> dict[str, float]:
    """Mean hole L1 and hole PSNR of uint8 completions against the uint8 originals; masks N x 1 x H x W, nonzero = hole."""
    if completed.shape != originals.shape or masks.shape[0] != completed.shape[0] or masks.shape[2:] != completed.shape[2:]:
        raise ValueError(f"completed {tuple(completed.shape)}, originals {tuple(originals.shape)} and masks {tuple(masks.shape)} do not match")
    hole = (masks != 0).expand_as(completed).double()
    pixels = hole.flatten(1).sum(dim=1)
    if bool((pixels == 0).any()):
        raise ValueError("every image needs a hole to score")
    difference = (completed.double() - originals.double()) * hole
    l1 = difference.abs().flatten(1).sum(dim=1) / pixels / 255.0
    mse = difference.pow(2).flatten(1).sum(dim=1) / pixels
    psnr = 10.0 * torch.log10(255.0**2 / mse.clamp(min=1e-10))
    return {"hole_l1": float(l1.mean()), "hole_psnr": float(psnr.mean())}
