"""Every model's defaults, as a user runs them, on its natural data for a fixed CPU budget.

    python -m benchmarks.defaults --seconds 300 --threads 2
    python -m benchmarks.defaults --seconds 300 --threads 2 --models cgan,vanilla

What `ganforge train --model NAME --data mnist` trains (`--data ring` for the
2-D toy model), with nothing but the model's defaults: no width, learning
rate or EMA set here. Each model trains for `--seconds` of wall-clock time
(or to the end of its recipe, when its learning rate decays to 0 at its
default --steps, as toy-mlp's does), then `--n` samples are scored with MNIST's trained classifier (ganforge's
`classifier` extractor, the same instrument as benchmarks.families):

- FID on classifier features and the classes covered (of 10);
- diversity within a class: the mean feature distance between two samples of
  one class, over the same for real images of that class (1: as varied as
  the real digits; near 0: one image per class). Samples are grouped by the
  class asked for (conditional models) or by the classifier's label;
- for conditional models, the share of samples of the asked class;
- for the toy model: ring modes covered (of 8) and the share of high-quality
  samples (within 3 standard deviations of a mode).

A row is "usable" when every class (or mode) is covered, FID on classifier
features is below 20, within-class diversity is at least 0.5, and a
conditional model makes the asked class at least 90% of the time.
Results: benchmarks/results/defaults_<model>.json; a table is printed.
`--report` prints the table of the saved results.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch

from benchmarks.common import RESULTS, SHARED_DATA, shown_path, write_result
from benchmarks.families import train_for
from ganforge.config import TrainConfig
from ganforge.data.base import to_uint8
from ganforge.metrics import Evaluator
from ganforge.metrics.features import extract_features
from ganforge.metrics.mixture import MixtureEvaluator
from ganforge.models import GAN, image_models
from ganforge.models.registry import POINT_MODELS
from ganforge.pipelines.evaluation import evaluate_generator

PER_CLASS_PAIRS = 200  # samples per class for the diversity ratio
USABLE = {"fid": 20.0, "diversity": 0.5, "asked_class": 0.90}


def natural_data(model: str) -> dict[str, Any]:
    """The data set a user would first train `model` on."""
    if model in POINT_MODELS:
        return {"data": "ring"}
    return {"data": "mnist", "data_root": str(SHARED_DATA / "mnist")}


def mean_pairwise_distance(features: torch.Tensor) -> float:
    """Mean L2 distance between distinct rows of `features`."""
    if len(features) < 2:
        return float("nan")
    distances = torch.cdist(features, features)
    n = len(features)
    return float(distances.sum() / (n * (n - 1)))


def within_class_diversity(fake: torch.Tensor, fake_labels: torch.Tensor, real: torch.Tensor, real_labels: torch.Tensor, classes: int) -> float:
    """Mean over the classes present in both sets of (fake spread / real spread)."""
    ratios = []
    for k in range(classes):
        fake_k, real_k = fake[fake_labels == k][:PER_CLASS_PAIRS], real[real_labels == k][:PER_CLASS_PAIRS]
        if len(fake_k) >= 2 and len(real_k) >= 2:
            ratios.append(mean_pairwise_distance(fake_k) / mean_pairwise_distance(real_k))
    return sum(ratios) / len(ratios) if ratios else 0.0


@torch.no_grad()
def score_images(model: GAN, evaluator: Evaluator, n: int) -> dict[str, Any]:
    """FID, classes, diversity within a class and (conditional) asked-class share."""
    result = evaluate_generator(evaluator, model, n, seed=0)
    record: dict[str, Any] = {"extractor": result.extractor, **result.metrics}
    real = evaluator.real
    assert real.logits is not None
    real_labels = real.logits.argmax(1)
    if model.conditional:
        asked = torch.arange(model.num_classes).repeat_interleave(n // model.num_classes)
        images = model.sample_images(model.seeded_noise(len(asked), 1), asked, convert=to_uint8)
        fake = extract_features(evaluator.extractor, images, evaluator.device, what="fake images")
        assert fake.logits is not None
        record["asked_class"] = float((fake.logits.argmax(1).cpu() == asked).float().mean())
        groups = asked
    else:
        images = model.sample_images(model.seeded_noise(n, 1), convert=to_uint8)
        fake = extract_features(evaluator.extractor, images, evaluator.device, what="fake images")
        assert fake.logits is not None
        groups = fake.logits.argmax(1).cpu()
    record["diversity"] = within_class_diversity(fake.features.cpu(), groups, real.features.cpu(), real_labels.cpu(), real.logits.shape[1])
    return record


def usable(record: dict[str, Any]) -> bool:
    if "modes_total" in record and "fid" not in record:  # points: every mode, mostly near one
        return record["modes"] == record["modes_total"] and record.get("high_quality", 0) >= 0.5
    ok = record["modes"] == record["modes_total"] and record["fid"] < USABLE["fid"] and record["diversity"] >= USABLE["diversity"]
    return ok and record.get("asked_class", 1.0) >= USABLE["asked_class"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--models", default=",".join([*image_models(), *sorted(POINT_MODELS)]))
    parser.add_argument("--n", type=int, default=5000, help="samples scored per model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", action="store_true", help="only print the table of the saved results")
    args = parser.parse_args()
    if args.report:
        print_table([json.loads(path.read_text()) for path in sorted(RESULTS.glob("defaults_*.json"))])
        return
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.models.split(","):
        config = TrainConfig(
            model=name, **natural_data(name), seed=args.seed, run=f"defaults-{name}-s{args.seed}",
            device="cpu", tensorboard=False, progress=False,
        )
        trainer, elapsed, _ = train_for(config, args.seconds)
        if name in POINT_MODELS:
            result = evaluate_generator(MixtureEvaluator(trainer.data), trainer.model, args.n, seed=0)
            scores: dict[str, Any] = {"extractor": result.extractor, **result.metrics}
        else:
            evaluator = Evaluator.create(["fid", "modes"], trainer.data, trainer.device, extractor="classifier")
            scores = score_images(trainer.model, evaluator, args.n)
        cfg = trainer.config
        record = {
            "benchmark": "defaults",
            "model": name,
            "data": config.data,
            "seed": args.seed,
            "seconds": elapsed,
            "steps": trainer.step,
            "steps_per_second": trainer.step / elapsed,
            "recipe": {k: getattr(cfg, k) for k in ("batch_size", "optimizer", "lr_g", "lr_d", "d_steps", "loss", "ema")},
            "model_options": trainer.model.config.get("options", {}),
            "samples": args.n,
            **scores,
            "run_dir": shown_path(trainer.run_dir),
            "command": f"python -m benchmarks.defaults --seconds {int(args.seconds)} --threads {args.threads} --models {name}"
            + (f" --seed {args.seed}" if args.seed else ""),
        }
        record["usable"] = usable(record)
        write_result(f"defaults_{name}" + (f"_s{args.seed}" if args.seed else ""), record)
        rows.append(record)
    print_table(rows)


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| model | data | steps | FID | classes / modes | diversity in class | asked class | usable |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        fid = f"{r['fid']:.2f}" if "fid" in r else "-"
        diversity = f"{r['diversity']:.2f}" if "diversity" in r else "-"
        asked = f"{100 * r['asked_class']:.1f}%" if "asked_class" in r else "-"
        covered = f"{r['modes']:.0f} / {r['modes_total']:.0f}"
        if "high_quality" in r:
            covered += f" ({100 * r['high_quality']:.0f}% high quality)"
        print(f"| {r['model']} | {r['data']} | {r['steps']} | {fid} | {covered} | {diversity} | {asked} | {'yes' if r['usable'] else 'no'} |")


if __name__ == "__main__":
    main()
