"""PSNR and SSIM as the super-resolution literature measures them.

The protocol of SRCNN, SRResNet/SRGAN, EDSR and ESRGAN's tables: images as
8-bit RGB, converted to the luma channel Y of ITU-R BT.601 in studio range
(MATLAB's rgb2ycbcr: Y = 16 + (65.481 R + 128.553 G + 24.966 B), R, G, B in
[0, 1]), `scale` pixels shaved off every border (the bicubic LR has no
information there), PSNR with a peak of 255, SSIM with an 11-tap Gaussian
window (sigma 1.5) on Y in [0, 255]. Grey images are their own Y.
Tested against scikit-image (rgb2ycbcr, peak_signal_noise_ratio,
structural_similarity) on fixed arrays.
"""

from __future__ import annotations

import torch

from ganforge.metrics.pairs import psnr_per_image, ssim_per_image

#: MATLAB rgb2ycbcr's luma row (for R, G, B in [0, 1]) and offset.
Y_WEIGHTS = (65.481, 128.553, 24.966)
Y_OFFSET = 16.0
PEAK = 255.0


def luma(images: torch.Tensor) -> torch.Tensor:
    """N x 1 x H x W float64 Y in [16, 235] of N x 3 x H x W uint8 RGB images
    (N x 1 grey images are returned as they are, in [0, 255])."""
    x = images.double()
    if x.shape[1] == 1:
        return x
    weights = torch.tensor(Y_WEIGHTS, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
    return Y_OFFSET + (x / 255.0 * weights).sum(dim=1, keepdim=True)


def shave(images: torch.Tensor, border: int) -> torch.Tensor:
    """Images without `border` pixels on each side."""
    if border <= 0:
        return images
    return images[..., border:-border, border:-border]


def sr_scores(output: torch.Tensor, target: torch.Tensor, border: int) -> dict[str, float]:
    """PSNR (dB) and SSIM on Y of one or more uint8 image pairs (N x C x H x
    W each, the same size), `border` pixels shaved: the means over the pairs."""
    if output.shape != target.shape:
        raise ValueError(f"outputs {tuple(output.shape)} and targets {tuple(target.shape)} differ in shape")
    y_out, y_target = shave(luma(output), border), shave(luma(target), border)
    return {
        "psnr": float(psnr_per_image(y_out, y_target, PEAK).mean()),
        "ssim": float(ssim_per_image(y_out, y_target, PEAK).mean()),
    }
