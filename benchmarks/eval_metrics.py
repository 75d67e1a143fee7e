"""Evaluation benchmarks: the MNIST noise floor, metric cost for 10,000
samples on CPU, and the scores of a DCGAN trained for a fixed CPU budget.

    python -m benchmarks.eval_metrics --threads 2                 # noise floor + timings
    python -m benchmarks.eval_metrics --threads 2 --run runs/budget-dcgan-mnist-300s
    python -m benchmarks.eval_metrics --threads 2 --only-fid-2048  # eigh vs scipy sqrtm FID

The run comes from `python -m benchmarks.time_budget --seconds 300 --data mnist`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import SHARED_DATA, write_result
from ganforge.data import load_data
from ganforge.data.base import ImageData
from ganforge.metrics import METRICS, Evaluator
from ganforge.pipelines.evaluation import evaluate_run
from ganforge.metrics.evaluate import compute_metrics
from ganforge.metrics.features import extract_features
from ganforge.metrics.inception import FIDInception

ALL = ["fid", "kid", "is", "pr", "coverage", "modes"]
CPU = torch.device("cpu")


def mnist() -> ImageData:
    return load_data("mnist", root=str(SHARED_DATA / "mnist"))


def noise_floor(data: ImageData) -> dict[str, Any]:
    """Every metric between two disjoint halves of the real test split."""
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    a, b = order[: len(data) // 2], order[len(data) // 2 :]
    half = ImageData(data.images[a], data.labels[a], data.class_names, name="mnist-half-a", origin=data.origin)
    evaluator = Evaluator.create(ALL, half, CPU, classifier_data=data)
    result = evaluator.evaluate_images(data.images[b])
    return {"metrics": result.metrics, "extractor": result.extractor, "n_real": result.n_real, "n_fake": result.n_fake,
            "classifier_val_accuracy": evaluator.extractor.record["val_accuracy"]}  # type: ignore[attr-defined]


def timings(data: ImageData, n: int = 10_000) -> dict[str, Any]:
    """Seconds for each stage of evaluating n images against n real ones."""
    evaluator = Evaluator.create(ALL, data, CPU)
    fake = data.images[torch.randint(len(data), (n,), generator=torch.Generator().manual_seed(1))]
    out: dict[str, Any] = {"n": n, "extractor": evaluator.extractor.name}
    start = time.perf_counter()
    features = extract_features(evaluator.extractor, fake, CPU)
    out["features_seconds"] = time.perf_counter() - start
    for name in METRICS.names():
        start = time.perf_counter()
        compute_metrics([name], evaluator.real, features)
        out[f"{name}_seconds"] = time.perf_counter() - start
    # Inception: the network's cost does not depend on its weights, so a
    # random one times it; 299 x 299 inputs make this the dominant stage.
    inception = FIDInception().eval()
    sample = data.images[:200].float() / 255
    with torch.no_grad():
        inception(sample[:8])  # warm-up
        start = time.perf_counter()
        for part in sample.split(50):
            inception(part)
    per_image = (time.perf_counter() - start) / len(sample)
    out["inception_images_per_second"] = 1 / per_image
    out["inception_features_seconds_for_n"] = per_image * n
    return out


def fid_2048_timing(n: int = 2500, dim: int = 2048) -> dict[str, Any]:
    """ganforge's eigh-based Fréchet distance against pytorch-fid's sqrtm one,
    on Inception-sized (2048-d) statistics of correlated Gaussian features."""
    import warnings

    import numpy as np
    from pytorch_fid.fid_score import calculate_frechet_distance

    from ganforge.metrics.fid import frechet_distance, gaussian_stats

    g = torch.Generator().manual_seed(0)
    mixing = torch.randn(dim, dim, generator=g, dtype=torch.float64) / dim**0.5
    a = torch.randn(n, dim, generator=g, dtype=torch.float64) @ mixing
    b = torch.randn(n, dim, generator=g, dtype=torch.float64) @ (1.1 * mixing) + 0.05
    (mu1, s1), (mu2, s2) = gaussian_stats(a), gaussian_stats(b)
    start = time.perf_counter()
    ours = frechet_distance(mu1, s1, mu2, s2)
    ours_seconds = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ref = float(calculate_frechet_distance(mu1.numpy(), s1.numpy(), mu2.numpy(), np.asarray(s2.numpy())))
    ref_seconds = time.perf_counter() - start
    return {"dim": dim, "n": n, "ganforge_seconds": ours_seconds, "pytorch_fid_seconds": ref_seconds,
            "ganforge_fid": ours, "pytorch_fid_fid": ref, "relative_difference": abs(ours - ref) / ref}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--run", type=Path, default=None, help="also score this run (10,000 samples, all metrics)")
    parser.add_argument("--fid-2048", action="store_true", help="also time the Fréchet distance on 2048-d statistics against pytorch-fid's")
    parser.add_argument("--only-fid-2048", action="store_true", help="run only that comparison")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    command = f"python -m benchmarks.eval_metrics --threads {args.threads}"
    if args.fid_2048 or args.only_fid_2048:
        write_result("eval_fid_2048_vs_pytorch_fid", {"benchmark": "fid_2048", **fid_2048_timing(), "command": f"{command} --only-fid-2048"})
        if args.only_fid_2048:
            return
    data = mnist()
    write_result("eval_noise_floor_mnist", {"benchmark": "noise_floor", "data": "mnist t10k halves (5,000 vs 5,000)", **noise_floor(data), "command": command})
    write_result("eval_timings_mnist_10k", {"benchmark": "metric_timings", **timings(data), "command": command})
    if args.run is not None:
        result = evaluate_run(args.run, ALL, 10_000, device="cpu")
        write_result(f"eval_{args.run.name}", {"benchmark": "run_scores", "run": str(args.run), **result.record(), "command": f"{command} --run {args.run}"})


if __name__ == "__main__":
    main()
