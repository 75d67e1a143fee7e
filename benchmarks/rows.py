"""The rows of BENCHMARKS.md as data: each claim's id, command, result file and figures.

`python -m benchmarks.reproduce ID` re-runs a row from here and prints the new
figures beside the recorded ones. A row's command is a template:

    {seed}     the seed being run (rows whose command has no {seed} have one seed)
    {suffix}   "" for seed 0, "_s{seed}" otherwise (the defaults benchmark's file names)
    {threads}  the row's CPU thread count (also set as OMP_NUM_THREADS)
    {runs}     the parent folder of run folders (a scratch folder when reproducing)
    {results}  the folder of result files (a scratch folder when reproducing)

The recorded figures are read from the committed result file (`result`,
under benchmarks/results/) with the same keys as the new ones: no figure is
copied by hand. A command that prints its result (`ganforge eval --json`)
instead of writing a file has `stdout_result`: reproduce saves its last JSON
line, with the environment, as the result file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Better = Literal["higher", "lower"]
Kind = Literal["quality", "speed", "check"]


@dataclass(frozen=True)
class Figure:
    """One number of a row: where it is in the result JSON and how far it may move.

    `key` is a dotted path into the result (list items by index; "{seed}" is
    replaced, for results that hold several seeds). `tolerance` is how far a
    re-run may land from the recorded figure of the same seed; `claim` is the bound every seed must
    meet (at least, or at most when lower is better) for the row to be claimed."""

    name: str
    key: str
    tolerance: float
    better: Better = "higher"
    claim: float | None = None
    percent: bool = False

    def format(self, value: float) -> str:
        return f"{100 * value:.1f}%" if self.percent else f"{value:.4g}"

    def meets_claim(self, value: float) -> bool:
        if self.claim is None:
            return True
        return value >= self.claim if self.better == "higher" else value <= self.claim

    def worst(self, values: list[float]) -> float:
        return min(values) if self.better == "higher" else max(values)


@dataclass(frozen=True)
class Row:
    """One claim of BENCHMARKS.md."""

    id: str
    kind: Kind
    commands: tuple[str, ...]
    result: str
    figures: tuple[Figure, ...]
    seeds: tuple[int, ...] = (0,)
    threads: int = 2
    minutes: float = 1.0  # rough cost of one seed on 2 CPU cores
    stdout_result: bool = False
    timed: bool = False  # the figure is the commands' wall-clock time, saved by reproduce
    needs_data: bool = True
    ci: bool = False  # re-run by the test suite's drift check
    # The result key of the steps a time-budgeted run trained: a faster or slower
    # machine trains more or fewer steps in the same seconds, and reproduce says by how much.
    budget_steps: str = ""
    notes: str = ""

    @property
    def seeded(self) -> bool:
        return any("{seed}" in command or "{suffix}" in command for command in self.commands)

    def result_file(self, seed: int) -> str:
        return fill(self.result, seed)


def fill(template: str, seed: int, **values: str) -> str:
    """A template with the seed (and any other placeholders given) filled in."""
    suffix = "" if seed == 0 else f"_s{seed}"
    for name, value in {"seed": str(seed), "suffix": suffix, **values}.items():
        template = template.replace("{" + name + "}", value)
    return template


def _ratio(tolerance: float = 0.3) -> tuple[Figure, ...]:
    return (Figure("speed ratio", "ratio", tolerance),)


def _defaults(model: str, *figures: Figure, seeds: tuple[int, ...] = (0,), data: str = "mnist") -> Row:
    return Row(
        id=f"defaults-{model}",
        kind="quality",
        commands=(f"python -m benchmarks.defaults --seconds 300 --threads {{threads}} --models {model} --seed {{seed}}",),
        result=f"defaults_{model}{{suffix}}.json",
        figures=figures,
        seeds=seeds,
        minutes=6,
        budget_steps="steps",
    )


FID = Figure("FID", "fid", 3.0, better="lower")
MODES_10 = Figure("classes", "modes", 1, claim=10)
ASKED = Figure("asked class", "asked_class", 0.02, percent=True)


def _mode_collapse(data: str, remedy: str, steps: int, tag: str, options: str) -> str:
    return (f"python -m benchmarks.mode_collapse --data {data} --remedies {remedy} --seeds {{seed}} --steps {steps} {options} "
            f"--tag={tag} --threads {{threads}}")


def _facades_arm(arm: str, row_id: str, minutes: float) -> Row:
    return Row(
        id=row_id,
        kind="quality",
        commands=(f"python -m benchmarks.pix2pix_facades --threads {{threads}} --arms {arm} --runs-dir {{runs}} --seed {{seed}}",),
        result="pix2pix_facades_128px{suffix}.json",
        figures=(
            Figure("segmentation pixel acc.", f"arms.{arm}.seg_pixel_accuracy", 0.05, percent=True),
            Figure("mIoU", f"arms.{arm}.seg_mean_iou", 0.04),
            Figure("PSNR", f"arms.{arm}.psnr", 1.0),
        ),
        minutes=minutes,
    )


SR_FIGURES = (Figure("Set5 PSNR", "Set5.psnr", 0.3), Figure("Set14 PSNR", "Set14.psnr", 0.3))


def _sr_gan_from(model: str, base: str) -> Row:
    """An SR GAN row: 200 steps from the PSNR-trained `base` run, with a VGG19 of random weights (no ImageNet weights here)."""
    vgg = "{runs}/vgg19-random-seed0.safetensors"
    return Row(
        f"{model}-random-vgg", "quality",
        (f"python -m benchmarks.sr random-vgg --out {vgg}",
         f"python -m benchmarks.sr train --model {model} --init-from runs/sr-{base} --train-option steps=200 --train-option batch_size=8 "
         f"-X vgg_weights={vgg} --threads {{threads}} --seed {{seed}}"),
        f"sr_{model}{{suffix}}.json", SR_FIGURES, minutes=10,
        notes=f"starts from runs/sr-{base}: the {base} row's run, made by its command without reproduce",
    )
TOY_RING = "--data ring --model toy-mlp"

ROWS: tuple[Row, ...] = (
    # -- speed ------------------------------------------------------------------
    Row("speed-dcgan-mnist", "speed", ("python -m benchmarks.reference_loop --data mnist --model dcgan --threads {threads}",),
        "reference_loop_dcgan_mnist_cpu.json", _ratio(), minutes=2),
    Row("speed-dcgan-cifar10", "speed", ("python -m benchmarks.reference_loop --data cifar10 --model dcgan --threads {threads}",),
        "reference_loop_dcgan_cifar10_cpu.json", _ratio(), minutes=2),
    Row("time-to-quality-dcgan-mnist", "quality",
        ("python -m benchmarks.time_to_quality --threads {threads} --recipe default --seed {seed}",), "time_to_quality_mnist_cpu{suffix}.json",
        (Figure("FID after 2 min", "recipes.default.scores.3.fid", 2.0, better="lower", claim=10.71),
         Figure("tutorial loop FID after 10 min", "reference_fid", 2.0, better="lower")), minutes=16,
        budget_steps="recipes.default.scores.3.steps"),
    Row("speed-pix2pix-facades", "speed", ("python -m benchmarks.pix2pix_reference --threads {threads}",),
        "pix2pix_reference_128px_cpu.json", _ratio(), minutes=3),
    Row("speed-srresnet", "speed", ("python -m benchmarks.sr_reference --threads {threads}",), "sr_reference_64px.json",
        (Figure("speed ratio", "speedup", 0.3),), minutes=3),
    Row("demo-time", "speed", ("make demo RUNS={runs}",), "reproduce_demo-time.json",
        (Figure("seconds", "seconds", 60, better="lower"),), minutes=3, timed=True, needs_data=False,
        notes="`make demo` after `make setup`: training on the bundled 8x8 digits, a sample grid, a latent walk"),
    # -- quality: noise to image ------------------------------------------------------
    Row("dcgan-ema-mnist-10min", "quality",
        ("python -m benchmarks.families --data mnist --seconds 600 --models dcgan --ema 0.999 --batch-size 32 --threads {threads} "
         "--tag=-ema-b32-10min-v2 --seed {seed}",),
        "families_mnist_dcgan-ema-b32-10min-v2{suffix}.json", (FID, MODES_10), minutes=12, budget_steps="steps"),
    _defaults("cgan", ASKED, FID, MODES_10),
    _defaults("vanilla", FID, MODES_10),
    Row("vanilla-paper-recipe", "quality",
        ("python -m benchmarks.families --data mnist --seconds 90 --models vanilla --threads {threads} -O recipe=paper "
         "--tag=-paper-recipe-90s --seed {seed}",),
        "families_mnist_vanilla-paper-recipe-90s{suffix}.json", (Figure("FID", "fid", 8.0, better="lower"), Figure("classes", "modes", 1)),
        minutes=2, budget_steps="steps"),
    _defaults("dcgan", FID, MODES_10, seeds=(0, 1, 2)),
    _defaults("lsgan", FID, MODES_10),
    _defaults("wgan-gp", FID, MODES_10),
    _defaults("wgan", FID, MODES_10, seeds=(0, 1, 2)),
    _defaults("cgan-pd", ASKED, FID, MODES_10),
    _defaults("acgan", ASKED, FID, MODES_10),
    _defaults("sngan", FID, MODES_10, seeds=(0, 1)),
    _defaults("lapgan", FID, MODES_10, seeds=(0, 1, 2)),
    _defaults("toy-mlp", Figure("modes", "modes", 1, claim=8), Figure("high quality", "high_quality", 0.03, percent=True, claim=0.9)),
    # -- quality: image to image ----------------------------------------------------------------
    _facades_arm("pix2pix", "pix2pix-facades", 30),
    _facades_arm("l1", "pix2pix-l1-facades", 30),
    _facades_arm("spade", "spade-facades", 30),
    Row("cyclegan-facades", "quality", ("python -m benchmarks.cyclegan_facades --threads {threads} --runs-dir {runs} --seed {seed}",),
        "cyclegan_facades_128px{suffix}.json",
        (Figure("labels to photo: seg. pixel acc.", "cyclegan.BtoA_seg_pixel_accuracy", 0.08, percent=True),
         Figure("photo to labels: pixel acc.", "cyclegan.AtoB_labels_pixel_accuracy", 0.08, percent=True)), minutes=60),
    Row("inpaint-cifar10", "quality", ("python -m benchmarks.inpaint --data cifar10 --threads {threads} --runs-dir {runs} --seed {seed}",),
        "inpaint_cifar10{suffix}.json",
        (Figure("FID", "gan.fid", 0.4, better="lower", claim=1.86), Figure("hole PSNR", "gan.hole_psnr", 0.5)), minutes=30),
    Row("inpaint-facades", "quality", ("python -m benchmarks.inpaint --data facades --threads {threads} --runs-dir {runs} --seed {seed}",),
        "inpaint_facades{suffix}.json",
        (Figure("hole PSNR", "gan.hole_psnr", 0.5, claim=15.92), Figure("FID", "gan.fid", 0.002, better="lower", claim=0.0057)),
        minutes=30),
    # -- super-resolution ----------------------------------------------------------------------
    Row("sr-bicubic", "check", ("python -m benchmarks.sr bicubic",), "sr_bicubic.json",
        (Figure("Set5 x4 PSNR", "rows.2.psnr", 0.01), Figure("Set14 x4 PSNR", "rows.5.psnr", 0.01)),
        minutes=0.2, ci=True, notes="the evaluation protocol against the published bicubic figures"),
    Row("srresnet", "quality", ("python -m benchmarks.sr train --model srresnet --threads {threads} --seed {seed}",),
        "sr_srresnet{suffix}.json", SR_FIGURES, minutes=30),
    _sr_gan_from("srgan", "srresnet"),
    Row("rrdbnet", "quality", ("python -m benchmarks.sr train --model rrdbnet --train-option steps=1200 --threads {threads} --seed {seed}",),
        "sr_rrdbnet{suffix}.json", SR_FIGURES, minutes=30),
    _sr_gan_from("esrgan", "rrdbnet"),
    # -- mode collapse ----------------------------------------------------------------------------
    Row("ring-pack2", "quality",
        ("ganforge train --config configs/ring-pack2.json --seed {seed} --run ring-pack2-s{seed} --runs-dir {runs} --no-progress",
         "ganforge eval ring-pack2-s{seed} --runs-dir {runs} --n 2500 --json"),
        "reproduce_ring-pack2_seed{seed}.json",
        (Figure("modes", "modes", 1, claim=8), Figure("high quality", "high_quality", 0.03, percent=True, claim=0.9),
         Figure("KL", "modes_kl", 0.05, better="lower")),
        seeds=(0, 1, 2, 3, 4), threads=1, minutes=4, stdout_result=True, needs_data=False),
    Row("ring-unrolled-metz", "quality",
        (_mode_collapse("ring", "unrolled-5", 60000, "-metz-code-60k",
                        "-O g_hidden=128 -O g_layers=2 -O g_norm=none -O d_hidden=128 -O d_layers=1 -O d_act=relu "
                        "-O init=orthogonal -O d_input_scale=0.5 --train-option batch_size=512 --train-option lr_g=0.0001 "
                        "--train-option lr_d=0.0001 --train-option beta1=0.5 --train-option z_dim=256 --train-option loss=minimax "
                        "--train-option unroll_batch=same"),),
        "mode_collapse_ring_unrolled-5_seed{seed}_60000steps-metz-code-60k.json",
        (Figure("modes", "modes", 1, claim=8), Figure("high quality", "high_quality", 0.03, percent=True, claim=0.9)),
        seeds=(0, 1, 2, 3), threads=1, minutes=35, needs_data=False),
    Row("grid-pack2-minibatch-std", "quality",
        (_mode_collapse("grid", "minibatch-std", 200000, "-small-decay-200k-pack2-ckpt",
                        "-O g_hidden=128 -O d_hidden=64 --train-option lr_g=0.001 --train-option lr_d=0.001 "
                        "--train-option lr_decay=linear --train-option pack=2"),),
        "mode_collapse_grid_minibatch-std_seed{seed}_200000steps-small-decay-200k-pack2-ckpt.json",
        # 25 / 25 on seeds 0-2, 24 on seed 3, 23 on seed 4: the claim is what every seed reaches.
        (Figure("modes (precise BN)", "precise_bn.modes", 1, claim=23),
         Figure("high quality (precise BN)", "precise_bn.high_quality", 0.03, percent=True, claim=0.9)),
        seeds=(0, 1, 2, 3, 4), threads=1, minutes=30, needs_data=False),
    Row("stacked-mnist-minibatch-std", "quality",
        ("python -m benchmarks.stacked_mnist --steps 15000 --remedies minibatch-std --seeds {seed} --device cpu -O layout=deep "
         "--train-option ema=0.999 --tag=-cpu-15k-deep-ema --threads {threads}",),
        "stacked_mnist_minibatch-std_seed{seed}-cpu-15k-deep-ema.json",
        (Figure("modes", "modes", 10, claim=1000), Figure("KL", "modes_kl", 0.03, better="lower")),
        seeds=(0, 1, 2), minutes=90),
    Row("ring-short", "check",
        (f"ganforge train {TOY_RING} --steps 3000 --seed {{seed}} --run ring-short-s{{seed}} --runs-dir {{runs}} --no-progress",
         "ganforge eval ring-short-s{seed} --runs-dir {runs} --n 2500 --json"),
        "reproduce_ring-short_seed{seed}.json",
        (Figure("modes", "modes", 1), Figure("high quality", "high_quality", 0.05, percent=True)),
        threads=1, minutes=0.3, stdout_result=True, needs_data=False, ci=True,
        notes="the toy-mlp defaults cut to 3,000 steps: a recipe check cheap enough for every test run"),
    # -- evaluation and applications -------------------------------------------------------
    Row("fid-noise-floor", "check", ("python -m benchmarks.eval_metrics --threads {threads}",), "eval_noise_floor_mnist.json",
        (Figure("FID of two real halves", "metrics.fid", 0.05, better="lower"),), minutes=3),
    Row("balance-mnist", "quality", ("python -m benchmarks.balance --threads {threads}",), "balance_mnist.json",
        (Figure("oversampled", "runs.oversampled.{seed}.balanced_accuracy", 0.02, percent=True),
         Figure("cGAN-balanced", "runs.gan-balanced.{seed}.balanced_accuracy", 0.03, percent=True)),
        seeds=(0, 1, 2), minutes=25, notes="one command trains the classifiers of all three seeds"),
)

ROWS_BY_ID: dict[str, Row] = {row.id: row for row in ROWS}
assert len(ROWS_BY_ID) == len(ROWS), "row ids must be unique"
