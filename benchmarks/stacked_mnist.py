"""Stacked MNIST (1,000 modes): DCGAN against each mode-collapse remedy.

    python -m benchmarks.stacked_mnist --seconds 60 --remedies plain,pack2 --device cuda
    python -m benchmarks.stacked_mnist --steps 20000 --remedies plain --train-option ema=0.999 --tag=-ema
    python -m benchmarks.stacked_mnist --real-floor --remedies '' --seeds 0,1,2   # real stacks: the floor of the KL
    python -m benchmarks.stacked_mnist --steps 100000 --remedies plain,pack2 -O layout=deep --device cuda --tag=-deep   # the papers' DCGAN
    python -m benchmarks.stacked_mnist --steps 15000 --resume --precise-bn --remedies minibatch-std -O layout=deep --tag=-deep

For each remedy and seed: train ganforge's `dcgan` on `stacked-mnist` (three
MNIST digits as R, G, B; batch 64, its defaults; `-O layout=deep` is the
four-stage DCGAN of the VEEGAN and PacGAN experiments) for `--seconds` of
wall-clock time or `--steps` steps (a step budget does not depend on what else
runs on the machine), then read `--n` samples (26,000 as in VEEGAN and PacGAN) with
the MNIST classifier per channel: modes covered (a tenth of the fair share),
modes with any sample (the papers' count) and KL to uniform. `--resume`
continues a saved run of the same name (a longer budget on top of a shorter
one; at the same thread count a resumed run equals a fresh one); `--precise-bn` re-estimates G's
batch-norm statistics before reading (the EMA generator otherwise normalises
with the live generator's running averages). Results:
benchmarks/results/stacked_mnist_<remedy>_seed<k><tag>.json and a table.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import torch

from benchmarks.common import RESULTS, write_result
from benchmarks.families import DATA_ROOTS, train_for
from benchmarks.mode_collapse import REMEDIES
from ganforge.config import TrainConfig, parse_options
from ganforge.data import load_data
from ganforge.metrics.stacked import StackedMnistEvaluator
from ganforge.pipelines.evaluation import evaluate_generator

MNIST_ROOT = DATA_ROOTS["mnist"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--steps", type=int, default=None, help="train this many steps instead of --seconds")
    parser.add_argument("-O", "--model-option", dest="model_options", action="append", metavar="KEY=VALUE", help="dcgan option, e.g. ndf=16 (repeatable)")
    parser.add_argument("--train-option", dest="train_options", action="append", metavar="KEY=VALUE", help="TrainConfig field, e.g. ema=0.999 (repeatable)")
    parser.add_argument("--remedies", default="plain,pack2,minibatch-std,minibatch-disc")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--n", type=int, default=26_000, help="samples read per run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tag", default="")
    parser.add_argument("--resume", action="store_true",
                        help="with --steps: a saved run of the same name continues from its newest checkpoint (a 15k run builds on a 5k one)")
    parser.add_argument("--checkpoint-every", dest="checkpoint_every", type=int, default=2500, metavar="N",
                        help="with --steps: checkpoint every N steps and print a progress line, so an interrupted run resumes with --resume (0: only at the end)")
    parser.add_argument("--precise-bn", dest="precise_bn", action="store_true",
                        help="re-estimate G's batch-norm statistics from fresh noise before reading the samples (as `ganforge eval --precise-bn`)")
    parser.add_argument("--report", action="store_true", help="only print the table of the saved results")
    parser.add_argument("--real-floor", action="store_true",
                        help="also read --n real stacks (per seed): the KL a perfect generator would show with this classifier and sample count")
    args = parser.parse_args()
    if args.resume and not args.steps:
        parser.error("--resume needs --steps (a wall-clock budget cannot continue a run)")
    if args.report:
        print_table([json.loads(p.read_text()) for p in sorted(RESULTS.glob("stacked_mnist_*.json"))])
        return
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = True
    model_options, train_options = parse_options(args.model_options), parse_options(args.train_options)
    budget = f"--steps {args.steps}" if args.steps else f"--seconds {int(args.seconds)}"
    options = "".join(f" -O {k}={v}" for k, v in model_options.items()) + "".join(f" --train-option {k}={v}" for k, v in train_options.items())
    evaluator = StackedMnistEvaluator(load_data("mnist", root=str(MNIST_ROOT)), torch.device(args.device))
    rows = [real_floor(evaluator, args.n, int(seed)) for seed in args.seeds.split(",")] if args.real_floor else []
    for remedy in args.remedies.split(",") if args.remedies else []:
        for seed in (int(s) for s in args.seeds.split(",")):
            settings = {"batch_size": 64, **train_options, **REMEDIES[remedy]}
            config = TrainConfig(
                data="stacked-mnist", data_root=str(MNIST_ROOT), model="dcgan", model_options=model_options,
                steps=args.steps or 10**9, seed=seed, run=f"stacked-{remedy}-seed{seed}{args.tag}",
                device=args.device, tensorboard=False, progress=False, **settings,
            )
            trainer, elapsed, start_step = train_for(
                config, math.inf if args.steps else args.seconds, args.steps, resume=args.resume,
                checkpoint_every=args.checkpoint_every if args.steps else None,
            )
            if args.precise_bn:
                trainer.model.recalibrate_batch_norm()  # after the checkpoint: the saved run does not change
            result = evaluate_generator(evaluator, trainer.model, args.n, seed=seed)
            record: dict[str, Any] = {
                "benchmark": "stacked_mnist", "model": "dcgan", "remedy": remedy, "settings": REMEDIES[remedy],
                "model_options": model_options, "train_options": train_options, "seed": seed,
                "seconds": elapsed, "steps": trainer.step, "resumed_from_step": start_step, "precise_bn": args.precise_bn,
                "steps_per_second": (trainer.step - start_step) / elapsed if trainer.step > start_step else None, "samples": args.n,
                "device": str(trainer.device), **result.metrics,
                "command": f"python -m benchmarks.stacked_mnist {budget} --remedies {remedy} --seeds {seed} --device {args.device}{options}"
                + (" --precise-bn" if args.precise_bn else "") + (f" --tag={args.tag}" if args.tag else ""),
            }
            write_result(f"stacked_mnist_{remedy}_seed{seed}{args.tag}" + ("-precise-bn" if args.precise_bn else ""), record)
            rows.append(record)
    print_table(rows)


def real_floor(evaluator: StackedMnistEvaluator, n: int, seed: int) -> dict[str, Any]:
    """The metrics of `n` real stacks drawn at random from the training data.

    A generator as good as the data scores this, not KL 0: `n` samples over
    1,000 modes leave a histogram that is not flat (about 999 / 2n of KL), the
    MNIST test split's digits are not exactly balanced, and the classifier
    misreads some digits.
    """
    data = load_data("stacked-mnist", root=str(MNIST_ROOT))
    picks = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    record: dict[str, Any] = {
        "benchmark": "stacked_mnist", "model": "real data", "remedy": "real data", "seed": seed,
        "seconds": 0.0, "steps": 0, "samples": n, "device": str(evaluator.device),
        **evaluator.evaluate_images(data.images[picks]).metrics,
        "command": f"python -m benchmarks.stacked_mnist --real-floor --remedies '' --seeds {seed}",
    }
    write_result(f"stacked_mnist_real_seed{seed}", record)
    return record


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| remedy | options | seed | device | seconds | steps | modes (tenth of share) | modes (any sample) | KL to uniform | of it, the digits' own |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        options = " ".join(
            [f"{k}={v}" for k, v in {**r.get("model_options", {}), **r.get("train_options", {})}.items()] + (["precise BN"] if r.get("precise_bn") else [])
        ) or "-"
        digits = f"{r['digits_kl']:.3f}" if "digits_kl" in r else "-"
        steps = f"{r['steps']} ({r['resumed_from_step']} before)" if r.get("resumed_from_step") else str(r["steps"])
        print(
            f"| {r['remedy']} | {options} | {r['seed']} | {r['device']} | {r['seconds']:.0f} | {steps} "
            f"| {r['modes']} | {r['modes_any']} | {r['modes_kl']:.3f} | {digits} |"
        )


if __name__ == "__main__":
    main()
