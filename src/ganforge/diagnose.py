"""`ganforge diagnose RUN`: is the run collapsing, or is one player winning?

Four measurements on the run's latest (or chosen) checkpoint, then a verdict
in words:
- mode coverage: the mixture's modes for point data, the 1,000 stacks for
  Stacked MNIST, the classifier's classes for labelled images;
- diversity: the mean pairwise distance between generated samples over the
  same between real samples (classifier features for images when the data is
  labelled, else the raw values); near 1 is healthy, near 0 is collapse;
- D's accuracy on real and on generated batches, each batch seen exactly as
  in training (D in training mode, real and fake apart); near 50% on both is
  the equilibrium of the GAN game;
- the gradient norms of D's loss over D's weights and G's loss over G's.
The report is printed and saved as RUN/diagnosis.json.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganforge.config import TrainConfig
from ganforge.data.base import ImageData, to_float, to_uint8
from ganforge.data.points import PointData
from ganforge.errors import GanforgeError
from ganforge.io import write_json
from ganforge.metrics.known_modes import known_modes_evaluator
from ganforge.metrics.mixture import MixtureEvaluator
from ganforge.models.base import GAN
from ganforge.objectives import StepContext, create_objective
from ganforge.objectives.adversarial import AdversarialObjective
from ganforge.objectives.settings import objective_settings
from ganforge.pipelines import GANPipeline

DIAGNOSIS_FILE = "diagnosis.json"
PAIRWISE_SAMPLES = 1000  # pairwise distances are O(n^2): a subset is plenty
D_BATCHES = 8
# Thresholds of the verdict.
COLLAPSED_DIVERSITY = 0.5
STRONG_D = 0.9
WEAK_D = 0.2
EQUILIBRIUM = (0.35, 0.65)


@dataclass
class Diagnosis:
    coverage: dict[str, float] = field(default_factory=dict)
    coverage_source: str = ""
    diversity: dict[str, Any] = field(default_factory=dict)
    discriminator: dict[str, float] = field(default_factory=dict)
    gradients: dict[str, float] = field(default_factory=dict)
    verdict: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "coverage": {**self.coverage, "source": self.coverage_source},
            "diversity": self.diversity,
            "discriminator": self.discriminator,
            "gradients": self.gradients,
            "verdict": self.verdict,
        }

    def report(self) -> str:
        lines = []
        if self.coverage:
            c = self.coverage
            lines.append(f"mode coverage   {c['modes']:.0f} / {c['modes_total']:.0f} modes, KL to the data's spread {c['modes_kl']:.3f}  ({self.coverage_source})")
            if "high_quality" in c:
                lines.append(f"high quality    {100 * c['high_quality']:.1f}% of samples within 3 std of a mode")
        else:
            lines.append(f"mode coverage   not measured ({self.coverage_source})")
        d = self.diversity
        lines.append(f"diversity       {d['ratio']:.3f} (mean pairwise distance: generated {d['fake']:.4g}, real {d['real']:.4g}; {d['space']})")
        if self.discriminator:
            a = self.discriminator
            lines.append(f"D accuracy      real {100 * a['accuracy_real']:.1f}%, generated {100 * a['accuracy_fake']:.1f}%")
        g = self.gradients
        if g:
            lines.append(f"gradient norms  D {g['d']:.4g}, G {g['g']:.4g}")
        lines.append("verdict:")
        lines += [f"  - {sentence}" for sentence in self.verdict]
        return "\n".join(lines)


def mean_pairwise_distance(samples: torch.Tensor) -> float:
    flat = samples.flatten(1).double()
    distances = torch.cdist(flat, flat)
    n = len(flat)
    return float(distances.sum() / max(n * (n - 1), 1))


def subset(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    return x[order]


def coverage_and_features(
    data: ImageData | PointData, config: TrainConfig, fake: torch.Tensor, device: torch.device
) -> tuple[dict[str, float], str, torch.Tensor | None, torch.Tensor | None]:
    """(mode stats, where they come from, real features, fake features) for the data's kind."""
    known = known_modes_evaluator(data, device, data_root=config.data_root, split=config.data_split)
    if isinstance(known, MixtureEvaluator):
        return known.evaluate_points(fake).metrics, f"{known.data.mixture.num_modes} Gaussians of {data.name}", None, None
    if known is not None:
        return known.evaluate_images(to_uint8(fake)).metrics, known.name, None, None
    if data.labels is None:
        return {}, f"{data.name} has no labels to count modes by", None, None
    from ganforge.metrics.classifier import classifier_for
    from ganforge.metrics.features import extract_features
    from ganforge.metrics.modes import mode_stats

    extractor = classifier_for(data, device)
    real = extract_features(extractor, subset(data.images, len(fake), seed=0), device, what="real images")
    made = extract_features(extractor, to_uint8(fake), device, what="generated images")
    assert real.logits is not None and made.logits is not None
    return mode_stats(real.logits, made.logits), f"{data.num_classes} classes, {extractor.name}", real.features, made.features


def game_of(model: GAN, config: TrainConfig, device: torch.device, seed: int) -> AdversarialObjective:
    """The run's own objective, so that D and G are judged on the game they
    were trained with. The unrolled D is left out: the gradient measured is
    the plain one of G's loss against D as it is."""
    name, options = objective_settings(config, model.config.get("name", ""))
    if "unroll" in options:
        options["unroll"] = 0
    objective = create_objective(name, **options)
    if not isinstance(objective, AdversarialObjective):
        raise GanforgeError(f"diagnose measures the noise-to-image game; objective '{name}' is not one")
    objective.setup(model, seed=seed, device=device)
    return objective


@torch.no_grad()
def discriminator_accuracy(model: GAN, data: ImageData | PointData, config: TrainConfig, device: torch.device, seed: int) -> dict[str, float]:
    """D's accuracy on real and on generated batches of the training batch size.
    A sample counts as judged real when its logit is above 0, or for the
    wasserstein critic (which has no threshold) above the midpoint of the mean
    real and mean fake scores."""
    generator = torch.Generator(device).manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    objective = game_of(model, config, device, seed)
    real_logits, fake_logits = [], []
    assert config.batch_size is not None
    model.train()  # as D sees batches in training (batch norm on the batch)
    for _ in range(D_BATCHES):
        indices = torch.randint(len(data), (config.batch_size,), generator=order).to(device)
        real, labels = data.batch(indices)
        fake = objective.fake(model, {"image": real, "label": labels}, generator)
        real_logits.append(model.discriminate(real, labels).float())
        fake_logits.append(model.discriminate(fake, labels).float())
    model.eval()
    r, f = torch.cat(real_logits), torch.cat(fake_logits)
    threshold = float((r.mean() + f.mean()) / 2) if config.loss == "wasserstein" else 0.0
    return {
        "accuracy_real": float((r > threshold).float().mean()),
        "accuracy_fake": float((f <= threshold).float().mean()),
        "d_real": float(torch.sigmoid(r).mean()),
        "d_fake": float(torch.sigmoid(f).mean()),
        "threshold": threshold,
    }


def gradient_norms(model: GAN, data: ImageData | PointData, config: TrainConfig, device: torch.device, seed: int) -> dict[str, float]:
    """Norms of the gradient of D's loss over D's weights and of G's loss over
    G's, on one batch, each loss as the run's objective computes it in training."""
    objective = game_of(model, config, device, seed)
    generator = torch.Generator(device).manual_seed(seed)
    assert config.batch_size is not None
    indices = torch.randint(len(data), (config.batch_size,), generator=torch.Generator().manual_seed(seed)).to(device)
    real, labels = data.batch(indices)
    batch = {"image": real, "label": labels}
    context = StepContext(batch=lambda: batch, noise=generator, optimizers={})
    model.train()
    model.zero_grad(set_to_none=True)
    objective.loss("d", model, context)[0].backward()
    d_norm = total_norm(model.discriminator)
    model.zero_grad(set_to_none=True)
    model.discriminator.requires_grad_(False)
    try:
        objective.loss("g", model, context)[0].backward()
    finally:
        model.discriminator.requires_grad_(True)
    g_norm = total_norm(model.generator)
    model.zero_grad(set_to_none=True)
    model.eval()
    return {"d": d_norm, "g": g_norm}


def total_norm(module: torch.nn.Module) -> float:
    grads = [p.grad.detach().flatten() for p in module.parameters() if p.grad is not None]
    return float(torch.cat(grads).norm()) if grads else 0.0


def verdict(diagnosis: Diagnosis) -> list[str]:
    """What the numbers say, in words."""
    said = []
    c, d, a = diagnosis.coverage, diagnosis.diversity, diagnosis.discriminator
    if c and c["modes"] < c["modes_total"]:
        said.append(
            f"mode collapse: only {c['modes']:.0f} of {c['modes_total']:.0f} modes get their share of samples; "
            "try a remedy: --pack 2, --minibatch-std, --minibatch-disc 50, --unroll 5, or --loss wasserstein --gp 10"
        )
    if d["ratio"] < COLLAPSED_DIVERSITY:
        said.append(f"low diversity: generated samples are {d['ratio']:.2f} times as far apart as real ones (mode collapse)")
    if a:
        real, fake = a["accuracy_real"], a["accuracy_fake"]
        if real > STRONG_D and fake > STRONG_D:
            said.append(
                f"D overpowers G: it tells real ({100 * real:.0f}%) from generated ({100 * fake:.0f}%) almost always, "
                "so G learns little; try a lower D learning rate, fewer --d-steps, --spectral-norm or --label-smoothing 0.1"
            )
        elif fake < WEAK_D:
            said.append(
                f"G fools a weak D: D calls {100 * (1 - fake):.0f}% of generated samples real; "
                "D may be too small or too slow to learn (more --d-steps, a higher D learning rate)"
            )
        elif EQUILIBRIUM[0] <= real <= EQUILIBRIUM[1] and EQUILIBRIUM[0] <= fake <= EQUILIBRIUM[1]:
            said.append("D is near chance on real and generated samples: the game is near its equilibrium")
        else:
            said.append(f"D is ahead but not overpowering (real {100 * real:.0f}%, generated {100 * fake:.0f}%)")
    if not any(sentence.startswith(("mode collapse", "low diversity")) for sentence in said):
        covered = "every mode is covered and " if c else ""
        said.insert(0, f"no collapse seen: {covered}generated samples are {d['ratio']:.2f} times as far apart as real ones")
    return said


def diagnose_run(
    run: str | os.PathLike[str],
    n: int = 2000,
    *,
    checkpoint: int | str | None = None,
    seed: int = 0,
    device: str = "auto",
    runs_dir: str | os.PathLike[str] = "runs",
    precise_bn: bool = False,
) -> Diagnosis:
    if n < 2:
        raise GanforgeError(f"--n must be at least 2, got {n}")
    pipeline = GANPipeline.from_run(run, checkpoint=checkpoint, device=device, runs_dir=runs_dir, precise_bn=precise_bn)
    assert pipeline.run_dir is not None and pipeline.train_config is not None
    config = TrainConfig.from_dict(pipeline.train_config)
    data = pipeline.training_data()
    target = pipeline.device
    fake = pipeline.sample(n, seed)
    diagnosis = Diagnosis()
    diagnosis.coverage, diagnosis.coverage_source, real_features, fake_features = coverage_and_features(data, config, fake, target)
    if real_features is not None and fake_features is not None:
        real_set, fake_set, space = real_features, fake_features, "classifier features"
    else:
        real_sample = subset(data.points if isinstance(data, PointData) else data.images, n, seed).cpu()
        real_set = real_sample if isinstance(data, PointData) else to_float(real_sample)
        fake_set, space = fake, "raw values"
    real_spread = mean_pairwise_distance(subset(real_set, PAIRWISE_SAMPLES, seed))
    fake_spread = mean_pairwise_distance(subset(fake_set, PAIRWISE_SAMPLES, seed))
    diagnosis.diversity = {"ratio": fake_spread / real_spread if real_spread else 0.0, "fake": fake_spread, "real": real_spread, "space": space}
    model = pipeline.model
    on_device = data.to(target)
    diagnosis.discriminator = discriminator_accuracy(model, on_device, config, target, seed)
    diagnosis.gradients = gradient_norms(model, on_device, config, target, seed)
    diagnosis.verdict = verdict(diagnosis)
    write_json(Path(pipeline.run_dir) / DIAGNOSIS_FILE, {"step": pipeline.step, "samples": n, "seed": seed, "precise_bn": precise_bn, **diagnosis.record()})
    return diagnosis
