"""`make bench`: every benchmark, results in benchmarks/results/*.json.

    python -m benchmarks.run_all          # the CPU figures (2 cores)
    python -m benchmarks.run_all --gpu    # the GPU figures (one CUDA device, about 25 minutes)
    bash benchmarks/gpu_check.sh          # issue 6's GPU figures within 8 minutes (a short lease)

Needs ../shared/data for the MNIST figures. Run on an otherwise idle machine:
the figures are wall-clock times.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from benchmarks.common import ROOT

COMMANDS = [
    ["benchmarks.train_speed", "--data", "mnist", "--model", "dcgan", "--batch-size", "64", "--threads", "2"],
    ["benchmarks.train_speed", "--data", "mnist", "--model", "vanilla", "--batch-size", "64", "--threads", "2"],
    ["benchmarks.train_speed", "--data", "digits", "--model", "dcgan", "--batch-size", "64", "--threads", "2"],
    ["benchmarks.time_budget", "--seconds", "300", "--data", "mnist", "--model", "dcgan", "--threads", "2", "--grid", "docs/images/dcgan-mnist-5min.png"],
    ["benchmarks.eval_metrics", "--threads", "2", "--run", "runs/budget-dcgan-mnist-300s", "--fid-2048"],
    ["benchmarks.reference_loop", "--data", "mnist", "--model", "dcgan", "--threads", "2"],
    ["benchmarks.reference_loop", "--data", "cifar10", "--model", "dcgan", "--threads", "2"],
    ["benchmarks.reference_loop", "--data", "cifar10", "--model", "sngan", "--steps", "5", "--warmup", "1", "--threads", "2", "-O", "g_ch=64", "-O", "d_ch=64"],
    ["benchmarks.speed_options", "--data", "mnist", "--model", "dcgan", "--threads", "2", "--variants", "fp32,bf16,channels-last,compile"],
    ["benchmarks.time_to_quality", "--threads", "2", "--recipe", "default", "--recipe", "lr_g=2e-4,lr_d=2e-4,ema=0", "--recipe", "lr_g=8e-4,lr_d=8e-4"],
    ["benchmarks.families", "--data", "mnist", "--seconds", "600", "--models", "dcgan", "--ema", "0.999", "--batch-size", "32", "--tag=-ema-b32-10min-v2", "--threads", "2"],
    ["benchmarks.families", "--data", "mnist", "--seconds", "300", "--models", "cgan", "-O", "g_net=mlp", "-O", "d_net=mlp", "--ema", "0.999", "--tag=-mlp-ema-300s", "--threads", "2"],
    ["benchmarks.families", "--data", "mnist", "--seconds", "150", "--threads", "2"],
    ["benchmarks.families", "--data", "cifar10", "--seconds", "90", "--threads", "2"],
    ["benchmarks.mode_collapse", "--data", "ring", "--remedies", "plain,pack2,minibatch-std", "--seeds", "0,1,2", "--steps", "20000",
     "-O", "g_hidden=128", "-O", "d_hidden=64", "--train-option", "lr_g=1e-3", "--train-option", "lr_d=1e-3", "--tag=-small", "--threads", "1"],
    ["benchmarks.mode_collapse", "--data", "grid", "--remedies", "plain,pack2,minibatch-std", "--seeds", "0,1,2", "--steps", "30000",
     "-O", "g_hidden=128", "-O", "d_hidden=64", "--train-option", "lr_g=1e-3", "--train-option", "lr_d=1e-3", "--tag=-small", "--threads", "1"],
    ["benchmarks.mode_collapse", "--data", "ring", "--remedies", "plain,pack2,minibatch-std,minibatch-disc,unrolled-5,wgan-gp",
     "--seeds", "0,1,2", "--steps", "20000", "-O", "g_hidden=128", "-O", "d_hidden=64", "--train-option", "lr_g=1e-3",
     "--train-option", "lr_d=1e-3", "--train-option", "lr_decay=linear", "--tag=-small-decay", "--threads", "1"],
    ["benchmarks.mode_collapse", "--data", "grid", "--remedies", "minibatch-std", "--seeds", "0,1,2", "--steps", "100000",
     "-O", "g_hidden=128", "-O", "d_hidden=64", "--train-option", "lr_g=1e-3", "--train-option", "lr_d=1e-3",
     "--train-option", "lr_decay=linear", "--train-option", "pack=2", "--tag=-small-decay-100k-pack2", "--threads", "1"],
    ["benchmarks.mode_collapse", "--data", "grid", "--remedies", "minibatch-std", "--seeds", "0,1,2", "--steps", "200000",
     "-O", "g_hidden=128", "-O", "d_hidden=64", "--train-option", "lr_g=1e-3", "--train-option", "lr_d=1e-3",
     "--train-option", "lr_decay=linear", "--train-option", "pack=2", "--tag=-small-decay-200k-pack2-ckpt", "--threads", "1"],
    ["benchmarks.mode_collapse", "--data", "grid", "--remedies", "plain,pack2,minibatch-std,minibatch-disc,unrolled-5,wgan-gp",
     "--seeds", "0,1,2", "--steps", "30000", "-O", "g_hidden=128", "-O", "d_hidden=64", "--train-option", "lr_g=1e-3",
     "--train-option", "lr_d=1e-3", "--train-option", "lr_decay=linear", "--tag=-small-decay", "--threads", "1"],
    ["benchmarks.stacked_mnist", "--steps", "3000", "--seeds", "0,1,2", "--real-floor", "--tag=-cpu-3k", "--threads", "2"],
    # The two remedies that cost several D passes per G step (WGAN-GP about 1 s per step on one thread, 50 minutes
    # a seed; the unrolled GAN 0.9 s on two threads, 45 minutes); WGAN-GP's critic without batch norm (its penalty
    # is per sample). The unrolled GAN again at Adam 4e-4, beside the plain GAN at that rate.
    ["benchmarks.stacked_mnist", "--steps", "3000", "--remedies", "wgan-gp", "--seeds", "0,1,2", "-O", "d_norm=layer",
     "--tag=-cpu-3k-layernorm", "--threads", "2"],
    ["benchmarks.stacked_mnist", "--steps", "3000", "--remedies", "unrolled-5", "--seeds", "0,1,2", "--tag=-cpu-3k", "--threads", "2"],
    ["benchmarks.stacked_mnist", "--steps", "3000", "--remedies", "plain,unrolled-5", "--seeds", "0,1", "--train-option", "lr_g=4e-4",
     "--train-option", "lr_d=4e-4", "--tag=-cpu-3k-lr4e-4", "--threads", "2"],
    # The papers' DCGAN, where the plain GAN collapses and --minibatch-std meets the target (1-2 hours per run).
    ["benchmarks.stacked_mnist", "--steps", "5000", "--remedies", "plain,pack2,minibatch-std", "--seeds", "0", "-O", "layout=deep",
     "--train-option", "ema=0.999", "--tag=-cpu-5k-deep-ema", "--threads", "2"],
    ["benchmarks.stacked_mnist", "--steps", "15000", "--remedies", "minibatch-std", "--seeds", "0,1,2", "-O", "layout=deep",
     "--train-option", "ema=0.999", "--tag=-cpu-15k-deep-ema", "--threads", "2"],
    # WGAN-GP on the papers' DCGAN against the other two at equal G steps (WGAN-GP about 3 s per step on one thread).
    ["benchmarks.stacked_mnist", "--steps", "2500", "--remedies", "plain,minibatch-std", "--seeds", "0", "-O", "layout=deep",
     "--train-option", "ema=0.999", "--tag=-cpu-deep-ema-2500", "--threads", "2"],
    ["benchmarks.stacked_mnist", "--steps", "2500", "--remedies", "wgan-gp", "--seeds", "0", "-O", "layout=deep", "-O", "d_norm=layer",
     "--train-option", "ema=0.999", "--tag=-cpu-deep-ema-layernorm", "--threads", "2"],
    # Synthetic training data: a classifier on imbalanced MNIST, balanced by a cGAN trained plainly and with
    # --class-balanced batches, against oversampling (about 25 minutes each).
    ["benchmarks.balance", "--threads", "2"],
    ["benchmarks.balance", "--class-balanced", "--arms", "gan-balanced,full-pool", "--tag=-class-balanced", "--threads", "2"],
    # The one training core (issue 28): the DCGAN figures before and after it (the same two commands as above,
    # run on the commit before the core in a worktree for "before"), pix2pix against the authors' loop, and
    # facades label map -> photo with its L1-only ablation (about 30 minutes per arm).
    ["benchmarks.pix2pix_reference", "--threads", "2"],
    ["benchmarks.pix2pix_facades", "--threads", "2"],
    # Every model's default command for 5 minutes on its natural data (issue 29).
    ["benchmarks.defaults", "--seconds", "300", "--threads", "2"],
    # Super-resolution (issue 30): the bicubic protocol check, SRResNet's default command (about 30 minutes),
    # SRGAN and ESRGAN fine-tuned from the PSNR stages (a seeded random VGG19 where ImageNet weights cannot be
    # downloaded), the crops figure, and the speed against a BasicSR-style loop.
    ["benchmarks.sr", "bicubic"],
    ["benchmarks.sr", "train", "--model", "srresnet", "--threads", "2"],
    ["benchmarks.sr", "random-vgg", "--out", "runs/vgg19-random-seed0.safetensors"],
    ["benchmarks.sr", "train", "--model", "srgan", "--init-from", "sr-srresnet", "-X", "vgg_weights=runs/vgg19-random-seed0.safetensors",
     "--train-option", "steps=200", "--train-option", "batch_size=8", "--threads", "2"],
    ["benchmarks.sr", "train", "--model", "rrdbnet", "--train-option", "steps=1200", "--threads", "2"],
    ["benchmarks.sr", "train", "--model", "esrgan", "--init-from", "sr-rrdbnet", "-X", "vgg_weights=runs/vgg19-random-seed0.safetensors",
     "--train-option", "steps=200", "--train-option", "batch_size=8", "--threads", "2"],
    ["benchmarks.sr_figure", "--runs", "sr-srresnet,sr-srgan,sr-rrdbnet,sr-esrgan", "--out", "docs/images/sr_crops.png"],
    ["benchmarks.sr_reference", "--threads", "2"],
    # Image to image (issue 31): CycleGAN on facades without pairs (about 60 CPU-minutes) beside the pix2pix
    # and SPADE arms of benchmarks.pix2pix_facades above, and inpainting against OpenCV (30 CPU-minutes each).
    ["benchmarks.cyclegan_facades", "--threads", "2"],
    ["benchmarks.inpaint", "--data", "cifar10", "--threads", "2"],
    ["benchmarks.inpaint", "--data", "facades", "--threads", "2"],
]

# Issue 6's GPU rows: the tutorial loop against ganforge (same maths in fp32,
# then ganforge's bf16 + compile), what each speed option gives with MFU, then
# Stacked MNIST remedies for longer than a CPU allows. Most important first.
GPU_FAST = ["--ganforge-option", "precision=bf16", "--ganforge-option", "compile=true"]
GPU_COMMANDS = [
    ["benchmarks.reference_loop", "--data", "cifar10", "--image-size", "64", "--model", "dcgan", "--batch-size", "256", "--device", "cuda", "--workers", "4"],
    ["benchmarks.reference_loop", "--data", "cifar10", "--image-size", "64", "--model", "dcgan", "--batch-size", "256", "--device", "cuda", "--workers", "4", *GPU_FAST],
    ["benchmarks.reference_loop", "--data", "cifar10", "--model", "sngan", "--batch-size", "128", "--device", "cuda", "--workers", "4"],
    ["benchmarks.reference_loop", "--data", "cifar10", "--model", "sngan", "--batch-size", "128", "--device", "cuda", "--workers", "4", *GPU_FAST],
    ["benchmarks.speed_options", "--data", "cifar10", "--image-size", "64", "--model", "dcgan", "--device", "cuda", "--batch-size", "256",
     "--variants", "fp32,bf16,fp16,channels-last,compile,compile-bf16,compile-bf16-channels-last"],
    ["benchmarks.speed_options", "--data", "cifar10", "--model", "sngan", "--device", "cuda", "--batch-size", "128",
     "--variants", "fp32,bf16,fp16,compile,compile-bf16"],
    ["benchmarks.stacked_mnist", "--steps", "30000", "--remedies", "plain,pack2", "--seeds", "0", "--device", "cuda", "--tag=-gpu-30k"],
    # The papers' four-stage DCGAN, where the plain GAN collapses (one command per remedy: each fits the 10-minute slot).
    *[["benchmarks.stacked_mnist", "--steps", "30000", "--remedies", remedy, "-O", "layout=deep", "--train-option", "ema=0.999",
       "--device", "cuda", "--tag=-gpu-deep-30k"] for remedy in ("plain", "pack2", "minibatch-std")],
    # The two remedies that cost several D passes per G step, on an equal 8-minute budget instead of equal steps;
    # WGAN-GP's critic without batch norm (its penalty is per sample).
    ["benchmarks.stacked_mnist", "--seconds", "480", "--remedies", "wgan-gp", "-O", "layout=deep", "-O", "d_norm=layer",
     "--train-option", "ema=0.999", "--device", "cuda", "--tag=-gpu-deep-480s-layernorm"],
    ["benchmarks.stacked_mnist", "--seconds", "480", "--remedies", "unrolled-5", "-O", "layout=deep", "--train-option", "ema=0.999",
     "--device", "cuda", "--tag=-gpu-deep-480s"],
    # pix2pix at the paper's 256 px: against the authors' loop, then facades for 20,000 steps (50 of the paper's 200 epochs).
    ["benchmarks.pix2pix_reference", "--image-size", "256", "--device", "cuda", "--workers", "4"],
    ["benchmarks.pix2pix_facades", "--image-size", "256", "--steps", "20000", "--device", "cuda"],
    ["benchmarks.cyclegan_facades", "--image-size", "256", "--steps", "20000", "--device", "cuda"],
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", action="store_true", help="run the GPU benchmarks instead of the CPU ones")
    args = parser.parse_args()
    for command in GPU_COMMANDS if args.gpu else COMMANDS:
        print("+ python -m", " ".join(command), flush=True)
        result = subprocess.run([sys.executable, "-m", *command], cwd=ROOT)
        if result.returncode:
            return result.returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
