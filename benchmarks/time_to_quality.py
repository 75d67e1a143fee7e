"""Time to quality: how soon ganforge's MNIST recipe reaches the FID that the
tutorial loop reaches after 10 minutes, on the same machine in the same run.

    python -m benchmarks.time_to_quality --threads 2
    python -m benchmarks.time_to_quality --threads 2 --recipe default --recipe batch_size=32,ema=0.999

The reference is benchmarks.reference_loop's loop (pytorch/examples' DCGAN
written out: DataLoader with per-sample transforms, sigmoid + BCELoss) on
ganforge's `dcgan` networks at batch 64 with the tutorial's settings (Adam
2e-4, no EMA), from the same initial weights.
It trains for --reference-seconds; each ganforge recipe (TrainConfig fields;
"default" is `ganforge train --data mnist` as shipped) for --seconds. FID
(classifier features, --n samples against the 10,000 real test images) is
taken at fixed points of training time; evaluation time is not counted.
Result: benchmarks/results/time_to_quality_mnist_<device>.json (_sK for --seed K > 0).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import build_trainer, result_name, sync, write_result
from benchmarks.reference_loop import DATA, TUTORIAL_SETTINGS, ReferenceLoop, reference_dataset
from ganforge.config import TrainConfig, parse_options
from ganforge.metrics import Evaluator
from ganforge.pipelines.evaluation import evaluate_generator
from ganforge.models import GAN

EVAL_SEED = 12345


def parse_recipe(text: str) -> dict[str, Any]:
    """'default' -> {}; 'batch_size=32,ema=0.999,ngf=32' -> TrainConfig fields
    {'batch_size': 32, 'ema': 0.999, 'model_options': {'ngf': 32}} (names
    that are not TrainConfig fields are model options)."""
    if text == "default":
        return {}
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    settings = parse_options(text.split(","))
    options = {k: v for k, v in settings.items() if k not in fields}
    return {**{k: v for k, v in settings.items() if k in fields}, **({"model_options": options} if options else {})}


def train_for(step: Callable[[], None], device: torch.device, points: list[float], score: Callable[[], float]) -> list[dict[str, float]]:
    """Run `step` until each of `points` (seconds of training, evaluation not
    counted) and score there."""
    scores, trained, steps = [], 0.0, 0
    for point in points:
        sync(device)
        start = time.perf_counter()
        while trained + (time.perf_counter() - start) < point:
            step()
            steps += 1
            if steps % 20 == 0:
                sync(device)
        sync(device)
        trained += time.perf_counter() - start
        fid = score()
        scores.append({"seconds": round(trained, 1), "steps": steps, "fid": fid})
        print(f"  {trained:6.1f} s  {steps:6d} steps  FID {fid:.2f}", flush=True)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", action="append", help="ganforge recipe: 'default' or KEY=VALUE,... TrainConfig fields (repeatable)")
    parser.add_argument("--seconds", type=float, default=120.0, help="training time of each ganforge recipe")
    parser.add_argument("--reference-seconds", type=float, default=600.0)
    parser.add_argument("--n", type=int, default=10_000, help="samples per FID")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tag", default="")
    parser.add_argument("--seed", type=int, default=0, help="init, data order and noise of both loops (seed K > 0 suffixes the result with _sK)")
    args = parser.parse_args()
    recipes = args.recipe or ["default"]

    torch.set_num_threads(args.threads)
    base = dict(data="mnist", data_root=str(DATA["mnist"]["data_root"]), device=args.device, tensorboard=False, progress=False, seed=args.seed)
    results: dict[str, Any] = {"benchmark": "time_to_quality", "data": "mnist", "device": args.device, "recipes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        reference_trainer = build_trainer(TrainConfig(**base, **TUTORIAL_SETTINGS), Path(tmp) / "reference")
        evaluator = Evaluator.create(["fid"], reference_trainer.data, reference_trainer.device, "auto")
        score = lambda model: evaluate_generator(evaluator, model, args.n, seed=EVAL_SEED).metrics["fid"]

        print(f"reference loop, {args.reference_seconds:.0f} s:", flush=True)
        model: GAN = copy.deepcopy(reference_trainer.model)  # the same initial weights as every recipe
        loop = ReferenceLoop(reference_trainer.config, model, reference_trainer.device, reference_dataset(reference_trainer, "mnist"), 0)
        points = [p for p in (60.0, 120.0, 300.0) if p < args.reference_seconds] + [args.reference_seconds]
        results["reference"] = train_for(loop.step, loop.device, points, lambda: score(model))
        target = results["reference"][-1]["fid"]

        for recipe in recipes:
            print(f"ganforge {recipe}, {args.seconds:.0f} s:", flush=True)
            trainer = build_trainer(TrainConfig(**{**base, **parse_recipe(recipe)}), Path(tmp) / recipe.replace(",", "_"))

            def step(trainer: Any = trainer) -> None:
                trainer.train_step()
                trainer.step += 1

            points = [args.seconds * f for f in (0.25, 0.5, 0.75, 1.0)]
            scores = train_for(step, trainer.device, points, lambda trainer=trainer: score(trainer.model))
            reached = next((s["seconds"] for s in scores if s["fid"] <= target), None)
            results["recipes"][recipe] = {"scores": scores, "reaches_reference_fid_at_seconds": reached, "target_met": reached is not None}
    results["reference_fid"] = target
    results["command"] = "python -m benchmarks.time_to_quality " + " ".join(
        [f"--threads {args.threads}", f"--seconds {args.seconds:g}", f"--reference-seconds {args.reference_seconds:g}", f"--n {args.n}", *[f"--recipe {r}" for r in recipes]]
    ) + (f" --seed {args.seed}" if args.seed else "")
    write_result(result_name(f"time_to_quality_mnist_{args.device.split(':')[0]}{args.tag}", "cpu", args.seed), results)


if __name__ == "__main__":
    main()
