"""Balancing an imbalanced MNIST with a conditional GAN: does a classifier gain?

    python -m benchmarks.balance --threads 2
    python -m benchmarks.balance --keep 25 --gan-steps 8000 --classifier-steps 1000 --seeds 0,1,2

The MNIST test split (../shared/data/mnist) is cut in two: the first 5,000
images are the training pool, the last 5,000 the held-out test set. The pool
is made imbalanced: the --minority classes keep only their first --keep
images, the others keep all theirs. Then, the way a user would:

1. the imbalanced pool is written as a folder of class sub-folders, and a
   conditional GAN trains on it (`ganforge train --data folder --labels
   --model cgan -O g_net=mlp -O d_net=mlp --ema 0.999`; kept under
   runs/balance-bench-*, and resumed if there);
2. `ganforge balance` tops every class up to the largest with generated images.

`--class-balanced` trains the GAN with `--class-balanced` batches (each class
drawn equally often), so it sees the small classes as often as the others.

The same small CNN (ganforge's classifier network, fixed number of updates)
is trained on each of: the imbalanced pool; the pool with each minority
class oversampled (its images repeated up to the largest class's count, the
usual baseline); the GAN-balanced set; and the whole 5,000-image pool (what
the data would give if it were not imbalanced: an upper bound). Each is
scored on the 5,000 held-out images: accuracy, the mean accuracy over the
minority classes, and balanced accuracy (the mean over all classes). The
GAN's samples are also scored by the upper-bound classifier (the share of
generated images of class K that it reads as K) and checked for copying: the
median distance of generated minority images to their nearest training image
of the class, beside the same for held-out real images of the class.
`--arms ""` measures only the GAN.
Results: benchmarks/results/balance_mnist<tag>.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import RUNS, SHARED_DATA, write_result
from ganforge.config import TrainConfig
from ganforge.data import ImageData, load_data
from ganforge.data.base import to_float, to_uint8
from ganforge.metrics.classifier import ClassifierNet, ClassifierSettings, train_classifier
from ganforge.report.images import save_png
from ganforge.training import train
from ganforge.data.order import class_members, repeated

ARMS = ("imbalanced", "oversampled", "gan-balanced", "full-pool")
TRAIN_POOL = 5000  # first half of MNIST t10k: training pool; second half: test set


def split_mnist(root: Path) -> tuple[ImageData, ImageData]:
    data = load_data("mnist", root=str(root))
    assert data.labels is not None
    pool = ImageData(images=data.images[:TRAIN_POOL], labels=data.labels[:TRAIN_POOL], name="mnist-pool", origin=data.origin)
    test = ImageData(images=data.images[TRAIN_POOL:], labels=data.labels[TRAIN_POOL:], name="mnist-test", origin=data.origin)
    return pool, test


def imbalanced_indices(labels: torch.Tensor, minority: list[int], keep: int) -> torch.Tensor:
    """Every image of the majority classes, the first `keep` of each minority class."""
    kept = [i for k in range(int(labels.max()) + 1) for i in (labels == k).nonzero().flatten().tolist()[: keep if k in minority else None]]
    return torch.tensor(sorted(kept))


def oversampled_indices(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each class's images repeated up to the largest class's count, as --class-balanced draws them."""
    members = class_members(labels)
    largest = max(len(m) for m in members)
    return torch.cat([repeated(m, largest, generator) for m in members])


def subset(data: ImageData, indices: torch.Tensor, name: str) -> ImageData:
    assert data.labels is not None
    return ImageData(images=data.images[indices], labels=data.labels[indices], name=name, origin=data.origin)


def write_class_folders(data: ImageData, out: Path) -> Path:
    """The data set as PNGs in one sub-folder per class (what a user's data looks like)."""
    assert data.labels is not None
    if out.is_dir():
        return out
    tmp = out.with_name(out.name + ".tmp")
    for n, (image, label) in enumerate(zip(data.images, data.labels.tolist(), strict=True)):
        folder = tmp / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        save_png(folder / f"{n:05d}.png", image.permute(1, 2, 0).numpy())
    tmp.rename(out)
    return out


@torch.no_grad()
def predictions(net: ClassifierNet, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    net.eval()
    return torch.cat([net(to_float(x))[1].argmax(dim=1) for x in images.split(batch_size)])


def scores(net: ClassifierNet, test: ImageData, minority: list[int]) -> dict[str, Any]:
    assert test.labels is not None
    predicted = predictions(net, test.images)
    per_class = [float((predicted[test.labels == k] == k).float().mean()) for k in range(test.num_classes)]
    return {
        "accuracy": float((predicted == test.labels).float().mean()),
        "minority_accuracy": statistics.mean(per_class[k] for k in minority),
        "balanced_accuracy": statistics.mean(per_class),
        "per_class": per_class,
    }


def nearest_distances(queries: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """Per query, the RMS pixel distance (images in [0, 1]) to its nearest reference image."""
    q = queries.flatten(1).float() / 255
    r = references.flatten(1).float() / 255
    return torch.cdist(q, r).min(dim=1).values / q.shape[1] ** 0.5


def copying(pipe: Any, train_set: ImageData, test: ImageData, minority: list[int], per_class: int = 500) -> dict[str, Any]:
    """Are the generated minority images near-copies of the few training ones?
    For each minority class: the median distance of generated images to their
    nearest training image of the class, against the same for held-out real
    images of the class (new handwriting at the distance new data has)."""
    assert train_set.labels is not None and test.labels is not None
    rows = {}
    for k in minority:
        references = train_set.images[train_set.labels == k]
        fakes = to_uint8(pipe.generate(pipe.noise(per_class, 20_000 + k), torch.full((per_class,), k)))
        rows[str(k)] = {
            "generated_median": float(nearest_distances(fakes, references).median()),
            "held_out_real_median": float(nearest_distances(test.images[test.labels == k], references).median()),
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=str(SHARED_DATA / "mnist"))
    parser.add_argument("--minority", default="5,6,7,8,9", help="classes cut down to --keep images")
    parser.add_argument("--keep", type=int, default=25, help="images kept per minority class")
    parser.add_argument("--gan-steps", type=int, default=8000)
    parser.add_argument("--gan-seed", type=int, default=0)
    parser.add_argument("--class-balanced", action="store_true", help="train the GAN with --class-balanced batches")
    parser.add_argument("--classifier-steps", type=int, default=1000)
    parser.add_argument("--seeds", default="0,1,2", help="classifier seeds (initialisation and data order)")
    parser.add_argument("--arms", default=",".join(ARMS), help="training sets to train the classifier on")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    minority = [int(k) for k in args.minority.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]

    pool, test = split_mnist(Path(args.data_root))
    assert pool.labels is not None
    imbalanced = subset(pool, imbalanced_indices(pool.labels, minority, args.keep), "mnist-imbalanced")
    work = RUNS / f"balance-bench-keep{args.keep}-{'-'.join(map(str, minority))}"
    folder = write_class_folders(imbalanced, work / "imbalanced")

    started = time.perf_counter()
    gan_kind = "-class-balanced" if args.class_balanced else ""
    gan = TrainConfig(
        data="folder", data_root=str(folder), class_labels=True, channels=1, model="cgan",
        model_options={"g_net": "mlp", "d_net": "mlp"}, ema=0.999, steps=args.gan_steps, seed=args.gan_seed,
        class_balanced=args.class_balanced, run=f"cgan-seed{args.gan_seed}{gan_kind}", runs_dir=str(work), progress=False, log_every=500, sample_every=2000,
        checkpoint_every=2000, tensorboard=False,
    )
    pipe = train(gan)
    gan_seconds = time.perf_counter() - started
    balanced_dir = work / f"balanced-seed{args.gan_seed}{gan_kind}-{args.gan_steps}"
    if not balanced_dir.is_dir():
        pipe.balance(balanced_dir, seed=args.gan_seed)
    balanced = load_data("folder", root=str(balanced_dir), labels=True, channels=1)
    # The folder source numbers classes by sorted sub-folder name: "0".."9" here.
    assert balanced.class_names == [str(k) for k in range(10)]

    copies = copying(pipe, imbalanced, test, minority)
    print("nearest training image, median RMS distance: generated / held-out real:",
          ", ".join(f"{k}: {v['generated_median']:.3f} / {v['held_out_real_median']:.3f}" for k, v in copies.items()), flush=True)
    results: dict[str, list[dict[str, Any]]] = {}
    synthetic_accuracy: list[float] = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        assert imbalanced.labels is not None
        arms = {
            "imbalanced": imbalanced,
            "oversampled": subset(imbalanced, oversampled_indices(imbalanced.labels, generator), "mnist-oversampled"),
            "gan-balanced": balanced,
            "full-pool": pool,
        }
        for name, data in arms.items():
            if name not in args.arms.split(","):
                continue
            t = time.perf_counter()
            settings = ClassifierSettings(epochs=1, min_steps=args.classifier_steps, seed=seed, val_fraction=0.0)
            net, record = train_classifier(data, settings, log=False)
            row = {"seed": seed, "images": len(data), "updates": record["epochs"] * max(1, (len(data) - 1) // settings.batch_size),
                   "seconds": round(time.perf_counter() - t, 1), **scores(net, test, minority)}
            results.setdefault(name, []).append(row)
            print(f"seed {seed} {name:>12}: accuracy {100 * row['accuracy']:.2f}%, minority {100 * row['minority_accuracy']:.2f}%, "
                  f"balanced {100 * row['balanced_accuracy']:.2f}% ({row['images']} images, {row['seconds']} s)", flush=True)
            if name == "full-pool":
                # How often the upper-bound classifier reads a generated class-K image as K.
                labels = torch.tensor(minority).repeat_interleave(500)
                fakes = pipe.generate(pipe.noise(len(labels), 10_000 + seed), labels)
                read = predictions(net, to_uint8(fakes))
                synthetic_accuracy.append(float((read == labels).float().mean()))

    if not results:
        print("no --arms given: only the GAN was measured")
    summary = {
        name: {key: statistics.mean(r[key] for r in rows) for key in ("accuracy", "minority_accuracy", "balanced_accuracy")}
        for name, rows in results.items()
    }
    write_result(f"balance_mnist{args.tag}", {
        "command": "python -m benchmarks.balance " + " ".join(f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k != "data_root"),
        "minority": minority, "keep": args.keep, "pool_counts": torch.bincount(pool.labels).tolist(),
        "imbalanced_counts": torch.bincount(imbalanced.labels).tolist() if imbalanced.labels is not None else None,
        "gan": {"steps": args.gan_steps, "seed": args.gan_seed, "class_balanced": args.class_balanced, "seconds_this_call": round(gan_seconds, 1),
                "minority_samples_read_as_requested": synthetic_accuracy, "nearest_training_image": copies},
        "summary": summary, "runs": results,
    })
    if results:
        print("\n| training set | images | accuracy | minority classes | balanced accuracy |\n|---|---|---|---|---|")
    for name, rows in results.items():
        s = summary[name]
        print(f"| {name} | {rows[0]['images']} | {100 * s['accuracy']:.2f}% | {100 * s['minority_accuracy']:.2f}% | {100 * s['balanced_accuracy']:.2f}% |")


if __name__ == "__main__":
    main()
