"""Read a run's generated digits with two independent rulers.

    python -m benchmarks.digit_rulers runs/stacked-plain-seed0-cpu-10k runs/dcgan-mnist-default-6k

The Stacked MNIST KL is measured with one ruler, the MNIST classifier. When
generated digits come out as some classes more often than others, the skew
may be the generator's or the ruler's. This reads `--n` generated images of
each run (every channel of a stack is a digit) with the classifier and with
k nearest neighbours in pixel space over the real digits (k-NN knows nothing
the classifier learned), and reports each ruler's share of every digit
(times ten: 1.0 is a fair share), how often the two rulers agree, and the
same agreement on real digits (held out of the k-NN's references) as the
level a perfect generator would reach. The generator is read with and
without its moving average (EMA) when it keeps one.
Results: benchmarks/results/digit_rulers_<run>.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import SHARED_DATA, write_result
from ganforge.data import load_data
from ganforge.data.base import ImageData
from ganforge.metrics.classifier import ClassifierExtractor, classifier_for
from ganforge.pipelines.evaluation import generate_uint8
from ganforge.metrics.features import extract_features
from ganforge.pipelines import GANPipeline

DIGITS = 10


def shares(predictions: torch.Tensor) -> list[float]:
    """Each digit's share of the predictions, times ten (1.0: its fair share)."""
    counts = torch.bincount(predictions, minlength=DIGITS).double()
    return [round(float(v), 3) for v in counts / counts.sum() * DIGITS]


class NearestNeighbours:
    """k-NN in pixel space (L2 on [0, 1] pixels) over labelled reference digits."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, k: int) -> None:
        self.references = images.reshape(len(images), -1).float() / 255
        self.labels = labels
        self.k = k

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        flat = images.reshape(len(images), -1).float() / 255
        nearest = torch.cat([torch.cdist(part, self.references).topk(self.k, largest=False).indices for part in flat.split(1000)])
        return torch.mode(self.labels[nearest], dim=1).values


def classify(classifier: ClassifierExtractor, digits: torch.Tensor) -> torch.Tensor:
    logits = extract_features(classifier, digits, torch.device("cpu"), what="digits").logits
    assert logits is not None
    return logits.argmax(dim=1)


def compare(classifier: ClassifierExtractor, knn: NearestNeighbours, digits: torch.Tensor) -> dict[str, Any]:
    by_classifier, by_knn = classify(classifier, digits), knn(digits)
    return {
        "digits": len(digits),
        "classifier_shares": shares(by_classifier),
        "knn_shares": shares(by_knn),
        "agreement": round(float((by_classifier == by_knn).double().mean()), 4),
    }


def as_digits(images: torch.Tensor) -> torch.Tensor:
    """N x C x 28 x 28 uint8 -> (N*C) x 1 x 28 x 28: every channel is a digit."""
    return images.reshape(-1, 1, *images.shape[-2:])


def read_run(run: Path, n: int, seed: int, classifier: ClassifierExtractor, knn: NearestNeighbours) -> dict[str, Any]:
    model = GANPipeline.from_run(str(run)).model
    record: dict[str, Any] = {"benchmark": "digit_rulers", "run": str(run), "samples": n, "seed": seed}
    record["generator"] = compare(classifier, knn, as_digits(generate_uint8(model, n, seed)))
    if model.generator_ema is not None:
        model.generator_ema = None  # the model is this function's own: generate_uint8 now uses G's weights
        record["generator_without_ema"] = compare(classifier, knn, as_digits(generate_uint8(model, n, seed)))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders of models trained on mnist or stacked-mnist")
    parser.add_argument("--n", type=int, default=5000, help="generated images read per run")
    parser.add_argument("--k", type=int, default=5, help="neighbours that vote")
    parser.add_argument("--real", type=int, default=2000, help="real digits held out of the k-NN references to measure the rulers' agreement on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    mnist: ImageData = load_data("mnist", root=str(SHARED_DATA / "mnist"))
    assert mnist.labels is not None
    classifier = classifier_for(mnist, "cpu")
    held_out = slice(0, args.real)
    knn = NearestNeighbours(mnist.images[args.real :], mnist.labels[args.real :], args.k)
    real = compare(classifier, knn, mnist.images[held_out])
    real["knn_accuracy"] = round(float((knn(mnist.images[held_out]) == mnist.labels[held_out]).double().mean()), 4)
    print(f"real digits: rulers agree on {100 * real['agreement']:.1f}%, k-NN accuracy {100 * real['knn_accuracy']:.1f}%")
    for run in args.runs:
        record = {**read_run(run, args.n, args.seed, classifier, knn), "k": args.k, "real": real,
                  "command": f"python -m benchmarks.digit_rulers {run} --n {args.n} --k {args.k} --real {args.real} --seed {args.seed}"}
        write_result(f"digit_rulers_{run.name}", record)
        for key in ("generator", "generator_without_ema"):
            if key in record:
                r = record[key]
                print(f"{run.name} {key}: agree {100 * r['agreement']:.1f}%\n  classifier {r['classifier_shares']}\n  k-NN       {r['knn_shares']}")


if __name__ == "__main__":
    main()
