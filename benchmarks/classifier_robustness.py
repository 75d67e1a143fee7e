"""How the MNIST classifier (the ruler of Stacked MNIST modes and classifier
FID) reads damaged real digits.

    python -m benchmarks.classifier_robustness --n 5000

Generated digits are imperfect, and a classifier that reads imperfect strokes
as some digits more than others turns that into a skewed mode histogram.
This reads `--n` real MNIST digits clean and under four damages (Gaussian
blur, pixel noise, a 10x10 patch erased, strokes thickened by a 3x3 maximum)
and reports the accuracy and each digit's share of the predictions, times
ten (1.0: its fair share). Result: benchmarks/results/classifier_robustness_mnist.json.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

from benchmarks.common import SHARED_DATA, write_result
from ganforge.data import load_data
from ganforge.metrics.features import extract_features
from ganforge.metrics.classifier import classifier_for

Damage = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
ERASED = 10  # side of the erased patch, pixels


def erase_patch(images: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
    out = images.clone()
    corners = torch.randint(0, images.shape[-1] - ERASED + 1, (len(images), 2), generator=noise)
    for image, (row, col) in zip(out, corners.tolist(), strict=True):
        image[:, row : row + ERASED, col : col + ERASED] = 0
    return out


DAMAGES: dict[str, Damage] = {
    "clean": lambda x, _: x,
    "blur (5x5, sigma 1.5)": lambda x, _: TF.gaussian_blur(x.float(), 5, 1.5).round().clamp(0, 255).to(torch.uint8),
    "noise (std 80 of 255)": lambda x, g: (x.float() + 80 * torch.randn(x.shape, generator=g)).clamp(0, 255).to(torch.uint8),
    f"erase ({ERASED}x{ERASED} patch)": erase_patch,
    "thicken (3x3 max)": lambda x, _: F.max_pool2d(x.float(), 3, 1, 1).to(torch.uint8),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000, help="real digits read")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    digits = load_data("mnist", root=str(SHARED_DATA / "mnist"))
    device = torch.device("cpu")
    classifier = classifier_for(digits, device)
    images, labels = digits.images[: args.n], digits.labels[: args.n]
    assert labels is not None
    rows = {}
    for name, damage in DAMAGES.items():
        features = extract_features(classifier, damage(images, torch.Generator().manual_seed(0)), device, what=name)
        assert features.logits is not None
        predicted = features.logits.argmax(dim=1)
        shares = torch.bincount(predicted, minlength=10).double() / len(predicted) * 10
        rows[name] = {"accuracy": float((predicted == labels).float().mean()), "shares_x10": [round(float(s), 3) for s in shares]}
        print(f"{name:24s} accuracy {rows[name]['accuracy']:.3f}  shares x10 {rows[name]['shares_x10']}")
    write_result("classifier_robustness_mnist", {
        "benchmark": "classifier_robustness", "data": "mnist", "n": args.n, "damages": rows,
        "command": f"python -m benchmarks.classifier_robustness --n {args.n}",
    })


if __name__ == "__main__":
    main()
