"""Every GAN family on one data set for a fixed CPU budget, scored on classifier features.

    python -m benchmarks.families --data mnist --seconds 150 --threads 2
    python -m benchmarks.families --data cifar10 --seconds 90 --models dcgan,sngan
    python -m benchmarks.families --data mnist --seconds 120 --models acgan --device cuda --widths paper

For each model: train for `--seconds` of wall-clock time (the run folder is
kept under runs/family-<model>-<data>), then score `--n` samples against the
real data with the data set's trained classifier (ganforge's `classifier`
extractor): FID, IS, classes covered, and for conditional models the share of
samples of class K that the classifier labels K. Results go to
benchmarks/results/families_<data>_<model><tag>.json and a markdown table is
printed. `--widths cpu` (the default) shrinks the ResNet and LAPGAN models to
fit a CPU budget; `--widths paper` keeps the paper's widths (for GPU runs).
`$GANFORGE_BENCH_DATA` points every benchmark at another copy of ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from typing import Any, NamedTuple

import torch

from benchmarks.common import RESULTS, SHARED_DATA, build_trainer, result_name, run_name, runs_folder, shown_path, write_result
from ganforge.config import TrainConfig, parse_options
from ganforge.data.base import to_uint8
from ganforge.errors import GanforgeError
from ganforge.io import write_json
from ganforge.metrics import Evaluator
from ganforge.pipelines.evaluation import evaluate_generator
from ganforge.metrics.features import extract_features
from ganforge.models import GAN, image_models
from ganforge.training import run_record
from ganforge.training.loop import Trainer
from ganforge.runs.folder import CONFIG_FILE, config_differences, read_run_config

DATA_ROOTS = {"mnist": SHARED_DATA / "mnist", "cifar10": SHARED_DATA / "cifar10"}
DATA_SPLITS = {"cifar10": "test"}

# CPU-sized widths: the paper widths (e.g. SNGAN's 256/128 channels) would
# manage a few dozen steps in the budget. Everything else is the model's
# paper default (loss, optimizer, learning rates, D steps, regularisers).
CPU_OPTIONS: dict[str, dict[str, Any]] = {
    "sngan": {"g_ch": 64, "d_ch": 64},
    "cgan-pd": {"g_ch": 64, "d_ch": 64},
    "acgan": {"g_ch": 64, "d_ch": 64},
    "lapgan": {"coarse_g_hidden": 600, "coarse_d_hidden": 300, "ch": 32},
}


class Trained(NamedTuple):
    trainer: Trainer
    seconds: float  # wall-clock time of this call's training
    start_step: int  # 0 for a fresh run, else the step a resumed run continued from


def train_for(
    config: TrainConfig, seconds: float, steps: int | None = None, *, resume: bool = False, checkpoint_every: int | None = None
) -> Trained:
    """Train a fresh run for `seconds` of wall-clock time (or until `steps`
    steps); save its checkpoint and sample grid. `resume`: a saved run of the
    same name and settings continues from its newest checkpoint instead (as
    `ganforge train` would), so a longer step budget builds on a shorter one.
    `checkpoint_every` N: also checkpoint (and print a progress line) every N
    steps, so that an interrupted hour-long run resumes instead of restarting;
    off by default because a timed run should spend its budget training."""
    run_dir = runs_folder(config.runs_dir) / config.run_name()
    if resume and (run_dir / CONFIG_FILE).is_file():
        differences = config_differences(read_run_config(run_dir)["train"], config, None)
        if differences:
            raise GanforgeError(f"cannot resume {run_dir}: it was made with other settings: {'; '.join(differences)}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    trainer = build_trainer(config, run_dir)
    if steps is None and trainer.config.lr_decay != "none":
        steps = trainer.config.steps  # a decaying learning rate reaches 0 at --steps: the recipe ends there
    start_step = trainer.resume() if resume else 0
    write_json(run_dir / CONFIG_FILE, run_record(trainer.config, trainer.model.config, trainer.data))
    start = time.perf_counter()
    while time.perf_counter() - start < seconds and (steps is None or trainer.step < steps):
        trainer.train_step()
        trainer.step += 1
        if checkpoint_every and trainer.step % checkpoint_every == 0 and trainer.step != steps:
            trainer.save_checkpoint()
            report_progress(config.run_name(), trainer.step - start_step, trainer.step, steps, time.perf_counter() - start)
    elapsed = time.perf_counter() - start
    if trainer.step > start_step or start_step == 0:
        trainer.save_checkpoint()
        trainer.save_sample_grid()
    return Trained(trainer, elapsed, start_step)


def report_progress(run: str, done: int, step: int, steps: int | None, seconds: float) -> None:
    """One stderr line per intermediate checkpoint: where a long run stands."""
    of = f"/{steps}" if steps else ""
    print(f"{run}: checkpoint at step {step}{of}, {seconds / done:.3f} s/step", file=sys.stderr, flush=True)


@torch.no_grad()
def requested_class_accuracy(model: GAN, evaluator: Evaluator, per_class: int, seed: int) -> float:
    """Share of samples generated for class K that the classifier labels K."""
    labels = torch.arange(model.num_classes).repeat_interleave(per_class)
    images = model.sample_images(model.seeded_noise(len(labels), seed), labels, convert=to_uint8)
    features = extract_features(evaluator.extractor, images, evaluator.device, what="fake images")
    assert features.logits is not None
    return (features.logits.argmax(1).cpu() == labels).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="mnist", choices=sorted(DATA_ROOTS))
    parser.add_argument("--seconds", type=float, default=150)
    parser.add_argument("--models", default=",".join(image_models()))
    parser.add_argument("--n", type=int, default=5000, help="samples scored per model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (training and scoring)")
    parser.add_argument("--widths", default="cpu", choices=["cpu", "paper"], help="cpu: the CPU_OPTIONS widths; paper: the model's own")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("-O", "--model-option", dest="model_options", action="append", metavar="KEY=VALUE", help="extra model option for every model (repeatable)")
    parser.add_argument("--train-option", dest="train_options", action="append", metavar="KEY=VALUE", help="TrainConfig field for every model, e.g. lr_g=1e-3 (repeatable)")
    parser.add_argument("--ema", type=float, default=0.0, help="EMA decay for every model (0: the model's default, off)")
    parser.add_argument("--diffaugment", default="", help="DiffAugment policy for every model, e.g. translation,cutout")
    parser.add_argument("--tag", default="", help="suffix of the run and result names")
    parser.add_argument("--seed", type=int, default=0, help="init, data order and noise (seed K > 0 suffixes the names with _sK)")
    parser.add_argument("--report", action="store_true", help="only print the table of the saved results for --data")
    args = parser.parse_args()
    if args.report:
        saved = [json.loads(path.read_text()) for path in sorted(RESULTS.glob(f"families_{args.data}_*.json"))]
        print_table([r for r in saved if r.get("tag", "") == args.tag])
        return
    torch.set_num_threads(args.threads)
    # Fixed input shapes: let cuDNN pick its fastest convolution algorithms.
    torch.backends.cudnn.benchmark = True

    rows = []
    for name in args.models.split(","):
        config = TrainConfig(
            data=args.data, data_root=str(DATA_ROOTS[args.data]), data_split=DATA_SPLITS.get(args.data),
            model=name, model_options={**(CPU_OPTIONS.get(name, {}) if args.widths == "cpu" else {}), **parse_options(args.model_options)},
            ema=args.ema, diffaugment=args.diffaugment, steps=10**9, batch_size=args.batch_size, run=run_name(f"family-{name}-{args.data}{args.tag}", "cpu", args.seed), device=args.device, seed=args.seed,
            tensorboard=False, progress=False, **parse_options(args.train_options),
        )
        trainer, elapsed, _ = train_for(config, args.seconds)
        evaluator = Evaluator.create(["fid", "is", "modes"], trainer.data, trainer.device, extractor="classifier")
        result = evaluate_generator(evaluator, trainer.model, args.n, seed=0)
        record: dict[str, Any] = {
            "benchmark": "families",
            "model": name,
            "data": args.data,
            "options": config.model_options,
            "ema": args.ema,
            "diffaugment": args.diffaugment,
            "train_options": parse_options(args.train_options),
            "tag": args.tag,
            "seconds": elapsed,
            "steps": trainer.step,
            "steps_per_second": trainer.step / elapsed,
            "d_steps": trainer.config.d_steps,
            "batch_size": args.batch_size,
            "device": str(trainer.device),
            "samples": args.n,
            "extractor": result.extractor,
            **result.metrics,
            "run_dir": shown_path(trainer.run_dir),
        }
        if trainer.model.conditional:
            record["requested_class_accuracy"] = requested_class_accuracy(trainer.model, evaluator, args.n // trainer.model.num_classes, seed=1)
        record["command"] = command_line(args, name)
        write_result(result_name(f"families_{args.data}_{name}{args.tag}", "cpu", args.seed), record)
        rows.append(record)

    print_table(rows)


def command_line(args: argparse.Namespace, name: str) -> str:
    """The command that reproduces one model's row."""
    parts = [f"python -m benchmarks.families --data {args.data} --seconds {int(args.seconds)} --models {name} --threads {args.threads}"]
    if args.device != "cpu":
        parts.append(f"--device {args.device}")
    if args.widths != "cpu":
        parts.append(f"--widths {args.widths}")
    if args.batch_size != 64:
        parts.append(f"--batch-size {args.batch_size}")
    parts += [f"-O {item}" for item in args.model_options or []]
    parts += [f"--train-option {item}" for item in args.train_options or []]
    if args.ema:
        parts.append(f"--ema {args.ema}")
    if args.diffaugment:
        parts.append(f"--diffaugment {args.diffaugment}")
    if args.tag:
        parts.append(f"--tag={args.tag}")
    if args.seed:
        parts.append(f"--seed {args.seed}")
    return " ".join(parts)


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| model | CPU widths | seconds | steps | steps/s | FID | IS | classes covered | class KL | requested class |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        accuracy = f"{100 * r['requested_class_accuracy']:.1f}%" if "requested_class_accuracy" in r else "-"
        options = " ".join(f"{k}={v}" for k, v in r["options"].items()) or "paper"
        name = r["model"] + (f" (EMA {r['ema']})" if r.get("ema") else "")
        print(
            f"| {name} | {options} | {r['seconds']:.0f} | {r['steps']} | {r['steps_per_second']:.2f} | {r['fid']:.2f} | {r['is']:.2f} "
            f"| {r['modes']:.0f} / {r['modes_total']:.0f} | {r['modes_kl']:.2f} | {accuracy} |"
        )


if __name__ == "__main__":
    main()
