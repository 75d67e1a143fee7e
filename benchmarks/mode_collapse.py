"""Mode collapse on the 2-D ring and grid: a plain GAN against each remedy.

    python -m benchmarks.mode_collapse --data ring,grid --steps 10000 --seeds 0,1,2
    python -m benchmarks.mode_collapse --report

Every run trains ganforge's `toy-mlp` (PacGAN's 2-D networks, z 2-D, batch
100, Adam 1e-4 / beta1 0.8) through the normal training loop for `--steps`
generator steps, then scores 2,500 samples (as PacGAN and VEEGAN did) on the
mixture's modes: modes covered, share of high-quality samples (within 3
standard deviations of a mode) and the reverse KL of the mode histogram to
uniform. Results: benchmarks/results/mode_collapse_<data>_<remedy>_seed<k>_<steps>steps.json,
and a table of the mean (min..max) over seeds. `--resume` continues a saved
run of the same name (a copy of a shorter run's folder under the new tag)
to `--steps` instead of training afresh.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
from typing import Any

import torch

from benchmarks.common import RESULTS, write_result
from benchmarks.families import train_for
import ganforge
from ganforge.config import TrainConfig, parse_options
from ganforge.data.points import PointData
from ganforge.metrics.mixture import MixtureEvaluator
from ganforge.pipelines.evaluation import evaluate_generator
from ganforge.models import GAN

SAMPLES = 2500

# Each remedy as the TrainConfig settings that switch it on.
REMEDIES: dict[str, dict[str, Any]] = {
    "plain": {},
    "pack2": {"pack": 2},
    "pack4": {"pack": 4},
    "minibatch-std": {"minibatch_std": True},
    "minibatch-disc": {"minibatch_disc": 50},
    "unrolled-5": {"unroll": 5},
    "wgan-gp": {"loss": "wasserstein", "gp": 10.0, "d_steps": 5, "beta1": 0.5, "beta2": 0.9},
}


# The papers' setting, which every row of docs/benchmarks/mode-collapse.md was
# measured from (toy-mlp's defaults before they became the ring recipe): the
# options and flags of a command change them from here.
PAPER_SETTINGS: dict[str, Any] = {"z_dim": 2, "batch_size": 100, "lr_g": 1e-4, "lr_d": 1e-4, "lr_decay": "none", "pack": 1}
PAPER_OPTIONS: dict[str, Any] = {"g_hidden": 400, "d_hidden": 200}


def run_one(
    data: str, remedy: str, seed: int, steps: int, model_options: dict[str, Any], train_options: dict[str, Any], tag: str = "",
    resume: bool = False, runs_dir: str = "runs",
) -> dict[str, Any]:
    settings: dict[str, Any] = {**PAPER_SETTINGS, **train_options, **REMEDIES[remedy]}
    config = TrainConfig(
        data=data, model="toy-mlp", steps=steps, seed=seed, model_options={**PAPER_OPTIONS, **model_options},
        run=f"collapse-{data}-{remedy}-seed{seed}{tag}", runs_dir=runs_dir, tensorboard=False, progress=False, device="cpu", **settings,
    )
    # A run folder with a checkpoint, so `ganforge plot` / `ganforge eval` can look at it again;
    # fresh unless `resume`, which continues a saved run of this name to `steps`.
    trainer, elapsed, start_step = train_for(config, math.inf, steps, resume=resume)
    result = evaluate_generator(MixtureEvaluator(trainer.data), trainer.model, SAMPLES, seed=seed)
    return {
        "benchmark": "mode_collapse",
        "data": data,
        "remedy": remedy,
        "settings": REMEDIES[remedy],
        "model_options": model_options,
        "train_options": train_options,
        "tag": tag,
        "seed": seed,
        "steps": steps,
        "seconds": elapsed,
        "resumed_from_step": start_step,
        "samples": SAMPLES,
        **result.metrics,
        "precise_bn": precise_bn_metrics(trainer.model, trainer.data, seed),
        "command": f"python -m benchmarks.mode_collapse --data {data} --remedies {remedy} --seeds {seed} --steps {steps}"
        + "".join(f" -O {k}={v}" for k, v in model_options.items())
        + "".join(f" --train-option {k}={v}" for k, v in train_options.items())
        + (f" --tag={tag}" if tag else "")
        + (" --resume" if resume else ""),
    }


def precise_bn_metrics(model: GAN, data: PointData, seed: int) -> dict[str, float]:
    """The mode metrics after precise batch norm (GAN.recalibrate_batch_norm
    with its defaults) on a copy of the model; the run keeps its statistics."""
    recalibrated = copy.deepcopy(model)
    recalibrated.recalibrate_batch_norm()
    return evaluate_generator(MixtureEvaluator(data), recalibrated, SAMPLES, seed=seed).metrics


def rescore(run: str, seed: int) -> None:
    """Print a saved run's mode metrics as trained and after precise batch norm."""
    pipe = ganforge.load(run, device="cpu")
    data = pipe.training_data()
    assert isinstance(data, PointData)
    print(json.dumps({"run": run, "as_trained": evaluate_generator(MixtureEvaluator(data), pipe.model, SAMPLES, seed=seed).metrics,
                      "precise_bn": precise_bn_metrics(pipe.model, data, seed)}, indent=2))


def summarise(rows: list[dict[str, Any]]) -> None:
    print("| data | recipe | remedy | seeds | steps | modes covered | high-quality samples | reverse KL | seconds per run |")
    print("|---|---|---|---|---|---|---|---|---|")
    groups: dict[tuple[str, str, int, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["data"], r.get("tag", ""), r["steps"], r["remedy"]), []).append(r)
    order = list(REMEDIES)
    for (data, tag, _, remedy), group in sorted(groups.items(), key=lambda kv: (*kv[0][:3], order.index(kv[0][3]) if kv[0][3] in order else 99)):
        def spread(key: str, fmt: str) -> str:
            values = [g[key] for g in group]
            return f"{statistics.mean(values):{fmt}} ({min(values):{fmt}}..{max(values):{fmt}})"
        total = group[0]["modes_total"]
        print(
            f"| {data} | {recipe(group[0])} | {remedy} | {len(group)} | {group[0]['steps']} | {spread('modes', '.1f')} / {total} "
            f"| {100 * statistics.mean(g['high_quality'] for g in group):.1f}% | {spread('modes_kl', '.2f')} "
            f"| {statistics.mean(g['seconds'] for g in group):.0f} |"
        )


def recipe(row: dict[str, Any]) -> str:
    """The settings a run changed from the paper's networks and optimiser."""
    changed = {**row.get("model_options", {}), **row.get("train_options", {})}
    return " ".join(f"{k}={v}" for k, v in changed.items()) or "paper"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="ring,grid")
    parser.add_argument("--remedies", default=",".join(REMEDIES))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("-O", "--model-option", dest="model_options", action="append", metavar="KEY=VALUE", help="toy-mlp option, e.g. g_hidden=128 (repeatable)")
    parser.add_argument("--train-option", dest="train_options", action="append", metavar="KEY=VALUE", help="TrainConfig field, e.g. lr_g=1e-3 (repeatable)")
    parser.add_argument("--tag", default="", help="suffix of the run and result names (use it with -O / --train-option)")
    parser.add_argument("--report", action="store_true", help="only print the table of the saved results")
    parser.add_argument("--resume", action="store_true", help="continue each saved run of the same name and settings from its newest checkpoint to --steps (seconds then count the new steps only)")
    parser.add_argument("--rescore", metavar="RUN", help="only score a saved run (seed: the first of --seeds), as trained and after precise batch norm")
    args = parser.parse_args()
    if args.rescore:
        rescore(args.rescore, int(args.seeds.split(",")[0]))
        return
    if args.report:
        summarise([json.loads(p.read_text()) for p in sorted(RESULTS.glob("mode_collapse_*.json"))])
        return
    torch.set_num_threads(args.threads)
    rows = []
    for data in args.data.split(","):
        for remedy in args.remedies.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                row = run_one(data, remedy, seed, args.steps, parse_options(args.model_options), parse_options(args.train_options), args.tag, args.resume)
                write_result(f"mode_collapse_{data}_{remedy}_seed{seed}_{args.steps}steps{args.tag}", row)
                rows.append(row)
    summarise(rows)


if __name__ == "__main__":
    main()
