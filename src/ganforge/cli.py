"""The `ganforge` command: train, sample, translate, upscale, inpaint, balance, diagnose, plot, interpolate, eval, train-classifier, models, data, metrics.

Errors the user can fix print one line (`ganforge: error: ...`) and exit with
status 2; no traceback.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ganforge.errors import GanforgeError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.ArgumentDefaultsHelpFormatter(prog, max_help_position=32)


# -- train -----------------------------------------------------------------


def _add_train_options(p: argparse.ArgumentParser) -> None:
    from ganforge.config import COMPILE_MODES, LR_DECAYS, MASK_KINDS, NAN_POLICIES, OPTIMIZERS, PRECISIONS, UNROLL_BATCHES
    from ganforge.data import DATA_SOURCES
    from ganforge.losses import LOSSES
    from ganforge.models import MODELS
    from ganforge.objectives import OBJECTIVES

    # Defaults are suppressed so the namespace holds only what the user typed:
    # those are the settings checked against a run that is being resumed. The
    # help text shows the TrainConfig defaults.
    S = argparse.SUPPRESS
    data = p.add_argument_group("data")
    data.add_argument("--data", choices=DATA_SOURCES.names(), default=S, help="data source (default: digits)")
    data.add_argument("--data-root", dest="data_root", metavar="DIR", default=S, help="folder holding the data files")
    data.add_argument("--split", dest="data_split", metavar="NAME", default=S, help="which split(s) to read (default: all present)")
    data.add_argument("--image-size", dest="image_size", type=int, metavar="N", default=S, help="resize (short side) and centre-crop to N x N")
    data.add_argument("--channels", type=int, choices=(1, 3), default=S, help="convert images to grey (1) or RGB (3)")
    data.add_argument("--labels", dest="class_labels", action="store_true", default=S, help="folder source: class labels from sub-folder names")
    data.add_argument("--download", action="store_true", default=S, help="download the official files (needs internet)")
    data.add_argument("--direction", choices=("AtoB", "BtoA"), default=S, help="paired data: translate A to B (default) or B to A (facades: BtoA is label map to photo)")
    data.add_argument("--scale", type=int, choices=(2, 3, 4), default=S, help="super-resolution data (--data sr): the upscaling factor (default: 4); --image-size is the HR crop (default: 96)")
    data.add_argument("--holdout", type=int, metavar="N", default=S, help="keep N images (a fixed draw, the same for every run) out of training; `ganforge eval` of an inpainting run scores them (default: 0, the test split)")
    data.add_argument("--masks", choices=MASK_KINDS, default=S, help="inpainting: the holes made on the fly: centre squares, random rectangles, free-form strokes, or a mix of the three (default: mixed)")
    data.add_argument("--class-balanced", dest="class_balanced", action="store_true", default=S, help="draw real batches evenly over the classes (small classes' images repeated up to the largest's count), for imbalanced labelled data")

    model = p.add_argument_group("model")
    model.add_argument("--model", choices=MODELS.names(), default=S, help="GAN architecture (default: dcgan)")
    model.add_argument("-O", "--model-option", dest="model_options", action="append", metavar="KEY=VALUE", default=S, help="model constructor option, e.g. -O ngf=32 (repeatable)")
    model.add_argument("--init-from", dest="init_from", metavar="RUN", default=S, help="start a new run from the generator weights of RUN (a name under --runs-dir or a folder), e.g. SRGAN from a trained SRResNet; its best checkpoint when it has one, else its newest")
    model.add_argument("--z-dim", dest="z_dim", type=int, metavar="N", default=S, help="latent dimension (default: the model's; 2 for toy-mlp, else 100)")

    game = p.add_argument_group("training")
    game.add_argument("--objective", choices=OBJECTIVES.names(), default=S, help="the game G and D play (default: the model's; adversarial for the noise-to-image families)")
    game.add_argument("-X", "--objective-option", dest="objective_options", action="append", metavar="KEY=VALUE", default=S, help="objective option, e.g. -X l1_weight=100 (repeatable); the flags below are aliases of the adversarial objective's options")
    game.add_argument("--loss", choices=LOSSES.names(), default=S, help="adversarial loss (default: the model's, else non-saturating)")
    game.add_argument("--label-smoothing", dest="label_smoothing", type=float, metavar="S", default=S, help="one-sided label smoothing: real target 1-S (default: 0)")
    game.add_argument("--d-steps", dest="d_steps", type=int, metavar="K", default=S, help="discriminator updates per generator update (default: the model's, else 1)")
    game.add_argument("--steps", type=int, metavar="N", default=S, help="generator updates in total (default: the model's, the length of its recipe; 20,000 for toy-mlp, else 2000); raise it to train a run further")
    game.add_argument("--batch-size", dest="batch_size", type=int, metavar="B", default=S, help="batch size (default: the model's; 1 for pix2pix, else 64)")
    game.add_argument("--lr", type=float, metavar="LR", default=S, help="learning rate of both G and D")
    game.add_argument("--lr-g", dest="lr_g", type=float, metavar="LR", default=S, help="generator learning rate (default: the model's, 2e-4 for DCGAN, 1.6e-3 at 28x28)")
    game.add_argument("--lr-d", dest="lr_d", type=float, metavar="LR", default=S, help="discriminator learning rate (default: the model's)")
    game.add_argument("--lr-decay", dest="lr_decay", choices=LR_DECAYS, default=S, help="linear: every learning rate falls linearly to 0 at --steps, so the game settles (default: the model's; linear from half way for pix2pix, else none)")
    game.add_argument("--lr-decay-start", dest="lr_decay_start", type=float, metavar="F", default=S, help="with --lr-decay linear: keep the learning rates constant for the first fraction F of --steps (default: the model's, else 0)")
    game.add_argument("--optimizer", choices=OPTIMIZERS, default=S, help="optimizer of G and D (default: the model's; rmsprop for wgan, sgd with momentum for vanilla -O recipe=paper, else adam)")
    game.add_argument("--beta1", type=float, default=S, help="Adam beta1 (default: the model's, 0.5 for DCGAN)")
    game.add_argument("--beta2", type=float, default=S, help="Adam beta2 (default: the model's, 0.999)")
    game.add_argument("--momentum", type=float, default=S, help="SGD momentum (with --optimizer sgd; default: the model's, else 0.5)")
    reg = p.add_argument_group("regularisers")
    reg.add_argument("--clip", type=float, metavar="C", default=S, help="clip D's weights to [-C, C] after each update (WGAN; default: the model's, 0.01 for wgan, else off)")
    reg.add_argument("--gp", type=float, metavar="LAMBDA", default=S, help="gradient penalty weight (WGAN-GP; default: the model's, 10 for wgan-gp, else off)")
    reg.add_argument("--r1", type=float, metavar="GAMMA", default=S, help="R1 penalty weight on real data (default: 0, off)")
    reg.add_argument("--spectral-norm", dest="spectral_norm", action="store_true", default=S, help="spectrally normalise every layer of D")
    reg.add_argument("--pack", type=int, metavar="M", default=S, help="PacGAN: D judges packs of M samples stacked on the channel axis (Lin 2018; default: the model's; 2 for toy-mlp, else 1, off; unconditional models)")
    reg.add_argument("--minibatch-std", dest="minibatch_std", action="store_true", default=S, help="append the minibatch standard deviation to D's input as one channel (Karras 2018, ProGAN)")
    reg.add_argument("--minibatch-disc", dest="minibatch_disc", type=int, metavar="B", default=S, help="minibatch discrimination: append B similarity features to D's input (Salimans 2016; default: 0, off)")
    reg.add_argument("--unroll", type=int, metavar="K", default=S, help="Unrolled GAN: G's loss against D after K differentiable Adam updates (Metz 2017; default: 0, off)")
    reg.add_argument("--unroll-batch", dest="unroll_batch", choices=UNROLL_BATCHES, default=S, help="with --unroll: 'fresh' (default) draws a new real and fake batch for each unrolled update; 'same' uses the step's batch for all of them and for G's loss, as Metz et al.'s code")
    reg.add_argument("--diffaugment", metavar="POLICY", default=S, help="DiffAugment on real and fake images: comma list of translation, cutout, color")
    reg.add_argument("--ema", type=float, metavar="DECAY", default=S, help="keep a moving average of G's weights (e.g. 0.999) for sampling and evaluation; 0: off (default: the model's, 0.999 for dcgan at 28x28, else off)")
    game.add_argument("--seed", type=int, default=S, help="fixes data order, noise and initialisation (default: 0)")
    game.add_argument("--device", default=S, help="auto, cpu, cuda or cuda:N (default: auto)")
    game.add_argument("--nan-policy", dest="nan_policy", choices=NAN_POLICIES, default=S, help="after a NaN or infinite loss or weight: rollback to the newest checkpoint and go on, the same with halved learning rates (lower-lr), or stop (default: rollback)")
    game.add_argument("--max-rollbacks", dest="max_rollbacks", type=int, metavar="N", default=S, help="stop with an error after N rollbacks (default: 3)")
    speed = p.add_argument_group("speed")
    speed.add_argument("--precision", choices=PRECISIONS, default=S, help="bf16/fp16: forward passes under autocast (fp16: CUDA only, with a gradient scaler; default: fp32)")
    speed.add_argument("--compile", action="store_true", default=S, help="torch.compile G and D (the first steps compile)")
    speed.add_argument("--compile-mode", dest="compile_mode", choices=COMPILE_MODES, default=S, help="with --compile: torch.compile's mode; reduce-overhead replays the networks as CUDA graphs on a GPU, max-autotune also tunes kernels (default: default)")
    speed.add_argument("--channels-last", dest="channels_last", action="store_true", default=S, help="NHWC memory layout for images and convolutions")

    run = p.add_argument_group("run folder")
    run.add_argument("--run", metavar="NAME", default=S, help="run name (default: MODEL-DATA); an existing run resumes")
    run.add_argument("--runs-dir", dest="runs_dir", metavar="DIR", default=S, help="parent folder of runs (default: runs)")
    run.add_argument("--config", metavar="FILE", default=S, help="JSON file of training settings; options given here override it")
    run.add_argument("--sample-every", dest="sample_every", type=int, metavar="N", default=S, help="write a sample grid every N steps (default: 500)")
    run.add_argument("--checkpoint-every", dest="checkpoint_every", type=int, metavar="N", default=S, help="checkpoint every N steps (default: 500)")
    run.add_argument("--keep-checkpoints", dest="keep_checkpoints", type=int, metavar="N", default=S, help="newest checkpoints kept (default: 2)")
    run.add_argument("--log-every", dest="log_every", type=int, metavar="N", default=S, help="write buffered metrics every N steps (default: 25)")
    run.add_argument("--grid-size", dest="grid_size", type=int, metavar="N", default=S, help="images in each sample grid (default: 64)")
    run.add_argument("--no-tensorboard", dest="tensorboard", action="store_false", default=S, help="do not write TensorBoard events")
    run.add_argument("--no-progress", dest="progress", action="store_false", default=S, help="log lines instead of a progress bar")

    ev = p.add_argument_group("evaluation during training")
    ev.add_argument("--eval-every", dest="eval_every", type=int, metavar="N", default=S, help="compute metrics every N steps and keep the best checkpoint in RUN/best: lowest FID, for a paired run lowest L1 on the test pairs, for a super-resolution run highest PSNR on --eval-data-root (default: 0, off)")
    ev.add_argument("--eval-metrics", dest="eval_metrics", type=_metric_list, metavar="LIST", default=S, help="metrics besides fid, e.g. kid,is,pr,coverage,modes (default: fid)")
    ev.add_argument("--eval-data-root", dest="eval_data_root", metavar="DIR", default=S, help="super-resolution runs: the HR test images --eval-every scores (PSNR/SSIM on Y; the best checkpoint has the highest PSNR), e.g. ../shared/data/sr/Set5")
    ev.add_argument("--eval-n", dest="eval_n", type=int, metavar="N", default=S, help="generated samples per evaluation (default: 5000)")
    _add_extractor_options(ev, suppress=True)


def _metric_list(text: str) -> list[str]:
    from ganforge.metrics.registry import parse_metric_names

    try:
        return parse_metric_names(text)
    except GanforgeError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_extractor_options(group: Any, suppress: bool = False) -> None:
    from ganforge.metrics.evaluate import EXTRACTORS

    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    group.add_argument("--extractor", choices=EXTRACTORS, default=default("auto"), help="feature network: auto picks the classifier for small labelled data (28x28 and below) or without Inception weights, else inception")
    group.add_argument("--inception-weights", dest="inception_weights", metavar="FILE", default=default(None), help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth (else $GANFORGE_INCEPTION_WEIGHTS, the torch hub cache, or a download)")


def _train_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the user gave: --config file first, then the options."""
    from ganforge.config import parse_options

    given = {k: v for k, v in vars(args).items() if k not in ("command", "handler", "config", "nproc", "argv")}
    settings: dict[str, Any] = {}
    if "config" in vars(args):
        path = Path(args.config)
        try:
            settings = json.loads(path.read_text())
        except OSError as error:
            raise GanforgeError(f"--config {path}: cannot read it ({error.strerror})") from None
        except ValueError as error:
            raise GanforgeError(f"--config {path} is not valid JSON ({error})") from None
        if not isinstance(settings, dict):
            raise GanforgeError(f"--config {path} must hold a JSON object of training settings")
    if "model_options" in given:
        given["model_options"] = {**settings.get("model_options", {}), **parse_options(given["model_options"])}
    if "objective_options" in given:
        given["objective_options"] = {**settings.get("objective_options", {}), **parse_options(given["objective_options"], kind="objective")}
    if "lr" in given:
        lr = given.pop("lr")
        if not math.isfinite(lr):
            raise GanforgeError(f"--lr must be a finite number, got {lr}")
        given.setdefault("lr_g", lr)
        given.setdefault("lr_d", lr)
    return {**settings, **given}


def cmd_train(args: argparse.Namespace) -> int:
    from ganforge.config import TrainConfig
    from ganforge.training import train

    nproc = getattr(args, "nproc", 1)
    if nproc < 1:
        raise GanforgeError(f"--nproc must be at least 1, got {nproc}")
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch_torchrun(nproc, args.argv)
    settings = _train_settings(args)
    pipeline = train(TrainConfig.from_dict(settings), given=set(settings))
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 alone reports
        return 0
    print(f"{pipeline.run_dir}: step {pipeline.step}; samples in {pipeline.run_dir}/samples, checkpoints in {pipeline.run_dir}/checkpoints")
    return 0


def _without_nproc(argv: Sequence[str]) -> list[str]:
    """`argv` less its --nproc option (torchrun's processes must not relaunch)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            kept.append(arg)
    return kept


def _launch_torchrun(nproc: int, argv: Sequence[str]) -> int:
    """Run this training command in `nproc` processes on this machine
    through torchrun (torch.distributed.run); its exit status is ours.
    The "--" keeps torchrun from reading ganforge's options (it would take
    --run for a prefix of its own --run-path)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "ganforge", "--", *_without_nproc(argv)]
    print(f"ganforge: launching {nproc} processes: {' '.join(command[1:])}", flush=True)
    return subprocess.run(command).returncode


# -- sample / interpolate ----------------------------------------------------


def _checkpoint(text: str) -> int | str:
    if text == "best":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a step number or 'best', got '{text}'") from None


def _add_run_argument(p: argparse.ArgumentParser, optional: bool = False) -> None:
    p.add_argument("run", nargs="?" if optional else None, help="run name (under --runs-dir) or run folder path")
    p.add_argument("--runs-dir", default="runs", help="parent folder of named runs")
    p.add_argument("--checkpoint", type=_checkpoint, metavar="STEP", default=None, help="a step number, or 'best' (the best under --eval-every: FID, or L1 for a paired run); default: the newest that loads")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0, help="noise seed; the same seed gives the same images")
    p.add_argument(
        "--precise-bn", dest="precise_bn", action="store_true",
        help="re-estimate G's batch-norm statistics from 64 fresh batches of noise before generating (the run's files do not change)",
    )


def _add_files_in_out(p: argparse.ArgumentParser, done: str) -> None:
    """The run, --input/--out and where to run, of a command that turns image files into image files."""
    p.add_argument("run", help="run name (under --runs-dir) or run folder path")
    p.add_argument("--input", required=True, help="an image file or a folder of images")
    p.add_argument("--out", required=True, help=f"folder for the {done} images")
    p.add_argument("--runs-dir", default="runs", help="parent folder of named runs")
    p.add_argument("--checkpoint", type=_checkpoint, metavar="STEP", default=None, help="a step number, or 'best'; default: the newest that loads")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")


def _load(args: argparse.Namespace) -> Any:
    """The generator of a generate run (a run of another task is refused with the command that fits it)."""
    from ganforge.pipelines import GANPipeline

    return GANPipeline.from_run(args.run, checkpoint=args.checkpoint, device=args.device, runs_dir=args.runs_dir, precise_bn=args.precise_bn)


def cmd_translate(args: argparse.Namespace) -> int:
    from ganforge.pipelines import CycleTranslationPipeline, TranslationPipeline
    from ganforge.runs.folder import task_of_run

    # Paired runs translate their one direction; unpaired ones both (another task is refused by name).
    unpaired = task_of_run(args.run, args.runs_dir)[1] == "unpaired"
    pipeline_class = CycleTranslationPipeline if unpaired else TranslationPipeline
    pipeline = pipeline_class.from_run(args.run, checkpoint=args.checkpoint, device=args.device, runs_dir=args.runs_dir)
    direction = pipeline.resolve_direction(args.direction)
    written = pipeline.save_translations(args.input, args.out, seed=args.seed, direction=direction)
    print(f"wrote {len(written)} image(s) translated {direction} to {args.out}")
    return 0


def cmd_upscale(args: argparse.Namespace) -> int:
    from ganforge.pipelines import UpscalePipeline

    pipeline = UpscalePipeline.from_run(args.run, checkpoint=args.checkpoint, device=args.device, runs_dir=args.runs_dir)
    written = pipeline.save_upscaled(args.input, args.out, tile=args.tile, scale=args.scale)
    print(f"wrote {len(written)} image(s) upscaled x{pipeline.scale} to {args.out}")
    return 0


def cmd_inpaint(args: argparse.Namespace) -> int:
    from ganforge.pipelines import InpaintPipeline

    pipeline = InpaintPipeline.from_run(args.run, checkpoint=args.checkpoint, device=args.device, runs_dir=args.runs_dir)
    written = pipeline.save_inpainted(args.input, args.mask, args.out)
    print(f"wrote {len(written)} inpainted image(s) to {args.out}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    pipeline = _load(args)
    if args.levels:
        if args.class_index is not None:
            raise GanforgeError("--class does not combine with --levels (LAPGAN is unconditional)")
        paths = pipeline.save_levels(args.out, args.n, seed=args.seed)
        print(f"wrote {len(paths)} level grids of {args.n} samples: {', '.join(str(p) for p in paths)}")
        return 0
    out = pipeline.save_samples(args.out, args.n, seed=args.seed, class_index=args.class_index)
    what = f" of class {args.class_index}" if args.class_index is not None else ""
    print(f"wrote {args.n} samples{what} to {out}")
    return 0


def cmd_balance(args: argparse.Namespace) -> int:
    out, plan = _load(args).balance(args.out, per_class=args.per_class, seed=args.seed, synthetic_only=args.synthetic_only)
    print(plan.table())
    kind = "generated images" if args.synthetic_only else "images (real and generated)"
    print(f"wrote {sum(plan.synthetic) + (0 if args.synthetic_only else sum(plan.real))} {kind} to {out}")
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    from ganforge.diagnose import DIAGNOSIS_FILE, diagnose_run

    diagnosis = diagnose_run(
        args.run, args.n, checkpoint=args.checkpoint, seed=args.seed, device=args.device, runs_dir=args.runs_dir, precise_bn=args.precise_bn
    )
    print(diagnosis.report())
    if args.json:
        print(json.dumps(diagnosis.record()))
    print(f"(saved in {DIAGNOSIS_FILE} of the run folder)")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    out = _load(args).save_plot(args.out, args.n, seed=args.seed)
    print(f"wrote a plot of {args.n} samples to {out}")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    out = _load(args).save_interpolation(args.out, walks=args.n, keyframes=args.keyframes, frames=args.frames, seed=args.seed)
    print(f"wrote a latent walk ({args.n} walks, {args.keyframes} keyframes) to {out}")
    return 0


# -- evaluation --------------------------------------------------------------


def _evaluate_image_to_image(args: argparse.Namespace, task: str) -> Any:
    """`ganforge eval RUN` of a run whose generator reads images: its task's test protocol."""
    from ganforge.pipelines.evaluation import evaluate_paired_run, evaluate_unpaired_run
    from ganforge.pipelines.inpaint_evaluation import evaluate_inpaint_run
    from ganforge.pipelines.sr_evaluation import evaluate_upscale_run

    if args.precise_bn:
        raise GanforgeError(f"--precise-bn recalibrates a generator of noise; it does not apply to run {args.run} of task '{task}'")
    where = {"checkpoint": args.checkpoint, "device": args.device, "runs_dir": args.runs_dir}
    features = {"inception_weights": args.inception_weights, "extractor": args.extractor}
    if task == "upscale":
        return evaluate_upscale_run(args.run, data_root=args.data_root, **where)
    if task == "inpaint":
        return evaluate_inpaint_run(args.run, **where, **features)
    if task == "unpaired":
        return evaluate_unpaired_run(args.run, split=args.split or "test", **where, **features)
    return evaluate_paired_run(args.run, split=args.split or "test", seed=args.seed, **where, **features)


def cmd_eval(args: argparse.Namespace) -> int:
    from ganforge.metrics import evaluate_paths
    from ganforge.pipelines.evaluation import evaluate_run
    from ganforge.runs.folder import task_of_run

    if args.run is not None and (args.real or args.fake):
        raise GanforgeError("give either a RUN or --real and --fake, not both")
    if args.run is None:
        if not (args.real and args.fake):
            raise GanforgeError("give a RUN to evaluate, or both --real PATH and --fake PATH")
        if args.precise_bn:
            raise GanforgeError("--precise-bn recalibrates a run's generator; it does not apply to --real and --fake images")
        result = evaluate_paths(
            args.real,
            args.fake,
            args.metrics,
            extractor=args.extractor,
            inception_weights=args.inception_weights,
            classifier_data=args.classifier_data,
            data_root=args.data_root,
            device=args.device,
        )
    elif task_of_run(args.run, args.runs_dir)[1] != "generate":
        result = _evaluate_image_to_image(args, task_of_run(args.run, args.runs_dir)[1])
        for note in result.extra.get("notes", []):
            print(f"note: {note}")
    else:
        result = evaluate_run(
            args.run,
            args.metrics,
            args.n,
            extractor=args.extractor,
            inception_weights=args.inception_weights,
            checkpoint=args.checkpoint,
            seed=args.seed,
            device=args.device,
            runs_dir=args.runs_dir,
            precise_bn=args.precise_bn,
        )
    print(result.table())
    if args.json:
        print(json.dumps(result.record()))
    return 0


def cmd_train_classifier(args: argparse.Namespace) -> int:
    from ganforge.data import load_data
    from ganforge.device import resolve_device
    from ganforge.metrics.classifier import ClassifierSettings, classifier_dir, classifier_for, load_classifier_from

    data = load_data(args.data, root=args.data_root, split=args.split, labels=args.labels)
    path = classifier_dir(data)
    if path.is_dir() and not args.force:
        _, record = load_classifier_from(path)
        print(f"classifier for {data.name} already trained ({100 * record['val_accuracy']:.2f}% held-out accuracy): {path}; --force retrains it")
        return 0
    settings = ClassifierSettings(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    extractor = classifier_for(data, resolve_device(args.device), settings=settings, force=True)
    record = extractor.record
    print(f"classifier for {data.describe()}: {100 * record['val_accuracy']:.2f}% accuracy on {record['val_images']} held-out images; saved to {path}")
    return 0


# -- listings ----------------------------------------------------------------


def _print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")


def cmd_models(args: argparse.Namespace) -> int:
    from ganforge.models import list_models

    _print_table(list_models())
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    from ganforge.metrics import list_metrics

    _print_table(list_metrics())
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from ganforge.data import list_data_sources

    _print_table(list_data_sources())
    return 0


# -- the parser ----------------------------------------------------------------


def build_parser() -> Parser:
    parser = Parser(prog="ganforge", description="Train, sample and inspect GANs.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("train", help="train a GAN (or resume its run)", description="Train a GAN; running the same command again resumes the run.")
    _add_train_options(p)
    p.add_argument("--nproc", type=int, metavar="N", default=1, help="train in N processes with DDP through torchrun (one per GPU; gloo on CPU); the same as torchrun --nproc_per_node=N -m ganforge -- train ...")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("sample", help="write samples of a trained run", description="Write samples: OUT.npz (uint8 N x H x W x C), OUT.png (one grid) or a folder of PNGs. Point models (ring, grid) write OUT.npz (key 'points') or an OUT.png scatter plot.", formatter_class=_formatter)
    _add_run_argument(p)
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--out", required=True, help="OUT.npz, OUT.png, or a folder")
    p.add_argument("--class", dest="class_index", type=int, metavar="K", default=None, help="conditional models: generate class K only (default: every class; a .png grid gets one row per class)")
    p.add_argument("--levels", action="store_true", help="LAPGAN: write one grid per pyramid level, OUT-level0.png (coarsest) ... ")
    p.set_defaults(handler=cmd_sample)

    p = sub.add_parser(
        "translate",
        help="translate images with a paired (pix2pix) or unpaired (CycleGAN) run",
        description="Translate one image, or every image of a folder, with a translation run's generator: one output per input, "
        "with the input's file name, in folder OUT, at the run's image size (inputs of another size are resized). "
        "A pix2pix run translates the direction it was trained with, and its dropout stays on at inference, as in the paper "
        "(--seed fixes it); a CycleGAN run translates A to B (default) or B to A.",
        formatter_class=_formatter,
    )
    _add_files_in_out(p, "translated")
    p.add_argument("--direction", choices=("AtoB", "BtoA"), default=None, help="CycleGAN runs: which translator (default AtoB); pix2pix runs: only the run's own")
    p.add_argument("--seed", type=int, default=0, help="seed of the generator's dropout")
    p.set_defaults(handler=cmd_translate)

    p = sub.add_parser(
        "upscale",
        help="upscale images with a super-resolution run (SRResNet, SRGAN, ESRGAN)",
        description="Upscale one image, or every image of a folder, with a super-resolution run's generator: one output per input, "
        "with the input's file name, in folder OUT, exactly scale times the input's size. Large images go through overlapping "
        "tiles of --tile LR pixels, so memory is bounded; grey and RGBA images keep their mode.",
        formatter_class=_formatter,
    )
    _add_files_in_out(p, "upscaled")
    p.add_argument("--tile", type=int, metavar="N", default=128, help="upscale inputs larger than N LR pixels in overlapping N x N tiles (0: whole images)")
    p.add_argument("--scale", type=int, metavar="R", default=None, help="the factor you expect; refused when it is not the run's")
    p.set_defaults(handler=cmd_upscale)

    p = sub.add_parser(
        "inpaint",
        help="fill holes in images with an inpainting run",
        description="Fill the holes of one image, or of every image of a folder, with an inpainting run's generator: "
        "the pixels where the mask is white are painted, every other pixel is kept; one output per input, with the input's "
        "file name, in folder OUT, at the input's own size. --mask is one mask file for every image, or a folder with a mask "
        "of the same name per image; each mask must have its image's size (grey levels are thresholded at 128, with a warning).",
        formatter_class=_formatter,
    )
    _add_files_in_out(p, "inpainted")
    p.add_argument("--mask", required=True, help="a mask file (white = fill), or a folder of masks named like the inputs")
    p.set_defaults(handler=cmd_inpaint)

    p = sub.add_parser(
        "balance",
        help="top up a labelled data set's small classes with a conditional GAN's samples",
        description="Write the run's training data with every class topped up by generated images of that class, "
        "to the count of the largest class (or --per-class N): a folder with one sub-folder per class "
        "(real-*.png, synthetic-*.png and balance.json; read it back with --data folder --labels) or an .npz "
        "(images, labels, synthetic). Needs a conditional model (cgan, cgan-pd, acgan).",
        formatter_class=_formatter,
    )
    _add_run_argument(p)
    p.add_argument("--out", required=True, help="a new folder, or OUT.npz")
    p.add_argument("--per-class", dest="per_class", type=int, metavar="N", default=None, help="images per class at least (default: the largest class's count); larger classes keep all their images")
    p.add_argument("--synthetic-only", dest="synthetic_only", action="store_true", help="write only the generated images")
    p.set_defaults(handler=cmd_balance)

    p = sub.add_parser(
        "diagnose",
        help="check a run for mode collapse and an unbalanced game",
        description="Measure mode coverage, sample diversity (pairwise distances against real data), D's accuracy on real "
        "and generated batches, and the gradient norms of G and D; then say in words what they show. Saved as RUN/diagnosis.json.",
        formatter_class=_formatter,
    )
    _add_run_argument(p)
    p.add_argument("--n", type=int, default=2000, help="generated samples to measure")
    p.add_argument("--json", action="store_true", help="also print the result as one JSON line")
    p.set_defaults(handler=cmd_diagnose)

    p = sub.add_parser(
        "plot",
        help="picture a run's samples to spot mode collapse",
        description="Point data (ring, grid): generated points over the real ones, with a circle of 3 standard deviations "
        "around each mode. Images: a grid with one row per class (the requested class for a conditional model, "
        "else the class the data set's classifier sees; grey cells mark missing samples).",
        formatter_class=_formatter,
    )
    _add_run_argument(p)
    p.add_argument("--n", type=int, default=2500, help="number of samples (points; for images about 100 is readable)")
    p.add_argument("--out", required=True, help="OUT.png")
    p.set_defaults(handler=cmd_plot)

    p = sub.add_parser("interpolate", help="write a latent-space walk (GIF)", description="Walk through latent space along great circles between random codes.", formatter_class=_formatter)
    _add_run_argument(p)
    p.add_argument("--out", required=True, help="walk.gif (animation) or walk.png (one row per walk)")
    p.add_argument("--n", type=int, default=16, help="parallel walks shown side by side")
    p.add_argument("--keyframes", type=int, default=4, help="random codes each walk passes through")
    p.add_argument("--frames", type=int, default=16, help="frames between two keyframes")
    p.set_defaults(handler=cmd_interpolate)

    p = sub.add_parser(
        "eval",
        help="score a run's samples (FID, KID, IS, PR, ...) or translations (L1, PSNR, SSIM, segmentation score)",
        description="Score a run's generator against its training data, or --fake images against --real ones. "
        "A super-resolution run upscales the bicubic LR of every image of --data-root (e.g. Set5) and reports PSNR and SSIM on Y "
        "with the scale's border shaved, beside bicubic's. "
        "A paired (translation) run translates the inputs of --split and compares outputs with targets: L1, PSNR, SSIM, "
        "FID and KID, and for facades-palette label maps the segmentation score of the outputs beside the real photos'. "
        "An unpaired (CycleGAN) run trained on a paired data set is scored the same way in both directions on its held-out pairs. "
        "An inpainting run fills fixed holes in its --holdout images (or its test split): L1 and PSNR in the hole, FID and KID. "
        "Results print as a table; for a run they are also appended to RUN/metrics.jsonl.",
        formatter_class=_formatter,
    )
    _add_run_argument(p, optional=True)
    p.add_argument("--metrics", type=_metric_list, default="fid,kid,is,pr", help="comma-separated metric names (see `ganforge metrics`)")
    p.add_argument("--n", type=int, default=10_000, help="samples to generate from the run")
    p.add_argument("--real", metavar="PATH", help="real images: a folder, an .npz, or a data source name")
    p.add_argument("--fake", metavar="PATH", help="generated images: a folder or an .npz (as `ganforge sample` writes)")
    p.add_argument("--split", metavar="NAME", default=None, help="paired runs: the split whose pairs are translated and scored (default: test)")
    p.add_argument("--classifier-data", dest="classifier_data", metavar="NAME", help="with --real/--fake: the labelled data source the classifier extractor is trained on")
    p.add_argument("--data-root", dest="data_root", metavar="DIR", help="folder of the data source named by --real or --classifier-data; for a super-resolution run, the HR test images")
    _add_extractor_options(p)
    p.add_argument("--json", action="store_true", help="also print the result as one JSON line")
    p.set_defaults(handler=cmd_eval)

    p = sub.add_parser(
        "train-classifier",
        help="train the classifier feature network for a data set",
        description="Train the small CNN whose features and class scores the classifier extractor uses; cached per data set.",
        formatter_class=_formatter,
    )
    from ganforge.data import DATA_SOURCES

    p.add_argument("--data", choices=DATA_SOURCES.names(), required=True, help="labelled data source")
    p.add_argument("--data-root", dest="data_root", metavar="DIR", help="folder holding the data files")
    p.add_argument("--split", metavar="NAME", help="which split(s) to read (default: all present)")
    p.add_argument("--labels", action="store_true", help="folder source: class labels from sub-folder names")
    p.add_argument("--epochs", type=int, default=6, help="passes over the data (small sets get more, for at least 600 updates)")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=128, help="batch size")
    p.add_argument("--seed", type=int, default=0, help="fixes the held-out split, the data order and the initialisation")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--force", action="store_true", help="retrain even if a classifier for this data is cached")
    p.set_defaults(handler=cmd_train_classifier)

    p = sub.add_parser("models", help="list the registered models", description="List the registered models.")
    p.set_defaults(handler=cmd_models)
    p = sub.add_parser("data", help="list the data sources", description="List the data sources.")
    p.set_defaults(handler=cmd_data)
    p = sub.add_parser("metrics", help="list the evaluation metrics", description="List the evaluation metrics.")
    p.set_defaults(handler=cmd_metrics)
    return parser


def _version() -> str:
    from ganforge import __version__

    return f"ganforge {__version__}"


def _unrecognized(parser: Parser, argv: Sequence[str], extras: list[str]) -> NoReturn:
    """One line naming the unknown option, a close match, and the valid options."""
    command = next((a for a in argv if not a.startswith("-")), None)
    target: argparse.ArgumentParser = parser
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            target = action.choices[command]
    options = sorted({o for a in target._actions for o in a.option_strings if o.startswith("--")})
    unknown = extras[0].split("=")[0]
    close = difflib.get_close_matches(unknown, options, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    target.error(f"unrecognized option {unknown}{hint}; valid options: {', '.join(options)}")


def _one_line_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> str:
    return f"ganforge: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    warnings.formatwarning = _one_line_warning  # type: ignore[assignment]
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        _unrecognized(parser, argv, extras)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        args.argv = argv
        return args.handler(args)
    except GanforgeError as error:
        print(f"ganforge: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as interrupt:
        if hasattr(interrupt, "exit_status"):  # training stopped after a checkpoint (TrainingInterrupted)
            print(f"ganforge: {interrupt}", file=sys.stderr)
            return int(interrupt.exit_status)
        print("ganforge: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
