"""Metrics of image pairs (output against target): L1, PSNR, SSIM.

Images are float tensors N x C x H x W in [-1, 1] (data range 2). SSIM is
Wang et al. 2004 with a Gaussian window (sigma 1.5, 11 taps), K1 0.01,
K2 0.03, averaged over the pixels whose window lies inside the image and
over the channels: the settings of scikit-image's structural_similarity with
gaussian_weights=True and use_sample_covariance=False, which a test checks
it against. Written in torch so it runs in batches on the training device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

DATA_RANGE = 2.0  # images in [-1, 1]
SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # int(3.5 * sigma + 0.5): scipy's gaussian_filter truncation
SSIM_K1, SSIM_K2 = 0.01, 0.03


def l1_per_image(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (output - target).abs().flatten(1).mean(dim=1)


def psnr_per_image(output: torch.Tensor, target: torch.Tensor, data_range: float = DATA_RANGE) -> torch.Tensor:
    """10 log10(range^2 / MSE) of each pair, in dB (inf for identical images)."""
    mse = (output.double() - target.double()).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(data_range**2 / mse)


def gaussian_window(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> torch.Tensor:
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _blur(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter of N*C single-channel images, 'valid' region only."""
    c = x.shape[1]
    horizontal = window.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    vertical = window.view(1, 1, -1, 1).expand(c, 1, -1, 1)
    return F.conv2d(F.conv2d(x, horizontal, groups=c), vertical, groups=c)


def ssim_per_image(output: torch.Tensor, target: torch.Tensor, data_range: float = DATA_RANGE) -> torch.Tensor:
    """Mean SSIM of each pair (over valid pixels and channels), computed in float64."""
    x, y = output.double(), target.double()
    window = gaussian_window().to(x.device)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu_x, mu_y = _blur(x, window), _blur(y, window)
    var_x = _blur(x * x, window) - mu_x**2
    var_y = _blur(y * y, window) - mu_y**2
    cov = _blur(x * y, window) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(dim=1)


def pair_metrics(output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Mean L1, PSNR (dB) and SSIM over the pairs."""
    if output.shape != target.shape:
        raise ValueError(f"outputs {tuple(output.shape)} and targets {tuple(target.shape)} differ in shape")
    return {
        "l1": float(l1_per_image(output, target).mean()),
        "psnr": float(psnr_per_image(output, target).mean()),
        "ssim": float(ssim_per_image(output, target).mean()),
    }
