"""L1, PSNR and SSIM of image pairs, against scikit-image on fixed arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ganforge.data.labelmaps import FACADES_PALETTE, to_classes
from ganforge.metrics.pairs import pair_metrics, psnr_per_image, ssim_per_image


def fixed_pairs() -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(7)
    target = rng.uniform(-1, 1, (3, 3, 40, 36))
    smooth = np.cumsum(target, axis=3) / np.arange(1, 37)  # structure the noise does not have
    output = np.clip(0.6 * smooth + 0.3 * target + rng.normal(0, 0.1, target.shape), -1, 1)
    return torch.from_numpy(output).float(), torch.from_numpy(target).float()


def test_ssim_matches_scikit_image() -> None:
    output, target = fixed_pairs()
    ours = ssim_per_image(output, target)
    for i in range(len(output)):
        theirs = structural_similarity(
            output[i].permute(1, 2, 0).double().numpy(), target[i].permute(1, 2, 0).double().numpy(),
            channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=2.0,
        )
        assert float(ours[i]) == pytest.approx(theirs, abs=1e-6)
    assert float(ssim_per_image(target, target)[0]) == pytest.approx(1.0)


def test_psnr_matches_scikit_image() -> None:
    output, target = fixed_pairs()
    ours = psnr_per_image(output, target)
    for i in range(len(output)):
        theirs = peak_signal_noise_ratio(target[i].double().numpy(), output[i].double().numpy(), data_range=2.0)
        assert float(ours[i]) == pytest.approx(theirs, abs=1e-6)


def test_pair_metrics_of_a_pair_with_itself() -> None:
    _, target = fixed_pairs()
    scores = pair_metrics(target, target)
    assert scores["l1"] == 0 and scores["ssim"] == pytest.approx(1.0) and scores["psnr"] == float("inf")
    with pytest.raises(ValueError, match="differ in shape"):
        pair_metrics(target, target[:, :1])


def test_label_map_colours_become_the_nearest_palette_class() -> None:
    palette = torch.tensor(FACADES_PALETTE, dtype=torch.int16)
    classes = torch.tensor([[0, 3], [11, 5]])
    image = palette[classes].permute(2, 0, 1).unsqueeze(0)  # 1 x 3 x 2 x 2
    noisy = (image + torch.tensor([9, -7, 5]).view(1, 3, 1, 1)).clamp(0, 255).to(torch.uint8)  # JPEG-like drift
    found, off = to_classes(noisy)
    assert torch.equal(found[0], classes) and off == 0.0
    grey = torch.full((1, 3, 2, 2), 128, dtype=torch.uint8)
    assert to_classes(grey)[1] == 1.0  # every pixel far from every class colour
