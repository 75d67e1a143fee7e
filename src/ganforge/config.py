"""Training configuration: one dataclass shared by the CLI, the Python API and
run folders (saved as `config.json`, the resolved values)."""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from ganforge.augment import parse_policy
from ganforge.errors import GanforgeError

# Fields that may change when a run resumes: they affect how long and how
# verbosely it runs, or where files are, not the maths of training.
RESUMABLE_FIELDS = frozenset(
    {
        "steps",
        "sample_every",
        "checkpoint_every",
        "keep_checkpoints",
        "log_every",
        "tensorboard",
        "progress",
        "device",
        "runs_dir",
        "run",
        "data_root",
        "download",
        # Evaluation reads the model but never changes it (nor any RNG stream).
        "eval_every",
        "eval_metrics",
        "eval_n",
        "eval_data_root",
        "extractor",
        "inception_weights",
        # Speed options: the same maths, run differently (precision to float tolerance).
        "precision",
        "compile",
        "compile_mode",
        "channels_last",
        # What to do about NaN: it changes nothing in a run that stays finite.
        "nan_policy",
        "max_rollbacks",
    }
)

# Fields whose None means "the model's paper default" (see GAN.training_defaults).
MODEL_DEFAULTED_FIELDS = (
    "objective", "loss", "d_steps", "steps", "batch_size", "lr_g", "lr_d", "lr_decay", "lr_decay_start", "optimizer", "beta1", "beta2", "momentum",
    "clip", "gp", "ema", "z_dim", "pack",
)
FALLBACK_DEFAULTS: dict[str, Any] = {
    "objective": "adversarial",
    "steps": 2000,
    "z_dim": 100,
    "pack": 1,
    "loss": "non-saturating",
    "batch_size": 64,
    "lr_decay": "none",
    "lr_decay_start": 0.0,
    "d_steps": 1,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "optimizer": "adam",
    "beta1": 0.5,
    "beta2": 0.999,
    "momentum": 0.5,
    "clip": 0.0,
    "gp": 0.0,
    "ema": 0.0,
}
# sgd: with momentum, the original GAN paper's (Goodfellow et al. 2014).
OPTIMIZERS = ("adam", "rmsprop", "sgd")
PRECISIONS = ("fp32", "bf16", "fp16")
# torch.compile's modes; reduce-overhead replays CUDA graphs on a GPU.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
LR_DECAYS = ("none", "linear")
# After a non-finite loss or weight: roll back to the newest checkpoint and
# replay (rollback), the same with the learning rates halved (lower-lr), or stop.
NAN_POLICIES = ("rollback", "lower-lr", "stop")
UNROLL_BATCHES = ("fresh", "same")
#: The holes inpainting trains on (ganforge.data.masks): each image draws one kind under "mixed".
MASK_KINDS = ("mixed", "centre", "rectangles", "strokes")


@dataclass
class TrainConfig:
    """Everything that defines a training run. Unset (None) training
    hyper-parameters take the chosen model's paper defaults."""

    # What to train on.
    data: str = "digits"
    data_root: str | None = None
    data_split: str | None = None
    image_size: int | None = None
    channels: int | None = None
    class_labels: bool = False  # folder source: labels from sub-folder names
    download: bool = False
    class_balanced: bool = False  # draw real batches evenly over the classes
    direction: str | None = None  # paired data: AtoB (default) or BtoA
    scale: int | None = None  # super-resolution data: the upscaling factor, 2, 3 or 4 (default 4)
    holdout: int = 0  # images kept out of training (a fixed draw) for evaluation; 0: none
    masks: str | None = None  # inpainting: the holes made on the fly (MASK_KINDS; default mixed)
    # The model.
    model: str = "dcgan"
    model_options: dict[str, Any] = field(default_factory=dict)
    z_dim: int | None = None  # the model's, else 100
    init_from: str | None = None  # a run (name or folder) whose generator weights a fresh run starts from
    # The game: the objective (the model's, e.g. adversarial, laplacian,
    # pix2pix) and its options (-X KEY=VALUE); the fields below up to `unroll_batch`
    # are the adversarial objectives' options under their older flag names.
    objective: str | None = None
    objective_options: dict[str, Any] = field(default_factory=dict)
    loss: str | None = None
    label_smoothing: float = 0.0
    d_steps: int | None = None
    steps: int | None = None  # the model's (the length of its recipe), else 2000
    batch_size: int | None = None  # the model's (pix2pix: 1), else 64
    lr_g: float | None = None
    lr_d: float | None = None
    optimizer: str | None = None  # adam, rmsprop or sgd
    beta1: float | None = None
    beta2: float | None = None
    momentum: float | None = None  # sgd's momentum (the model's, else 0.5)
    lr_decay: str | None = None  # "linear": every learning rate falls linearly to 0 at --steps
    lr_decay_start: float | None = None  # with linear: constant until this fraction of --steps (pix2pix: 0.5)
    # Regularisers (0 / empty: off).
    clip: float | None = None  # WGAN weight clipping to [-c, c]
    gp: float | None = None  # WGAN-GP gradient penalty weight lambda
    r1: float = 0.0  # R1 penalty weight gamma
    spectral_norm: bool = False  # spectral normalisation of every layer of D
    diffaugment: str = ""  # DiffAugment policy, e.g. "translation,cutout,color"
    ema: float | None = None  # decay of a moving average of G's weights, e.g. 0.999 (0: off)
    # Mode-collapse remedies (ganforge.remedies; 1 / False / 0: off).
    pack: int | None = None  # PacGAN: D judges packs of M samples (the model's, else 1: off)
    minibatch_std: bool = False  # ProGAN's minibatch standard deviation channel
    minibatch_disc: int = 0  # minibatch discrimination with B kernels
    unroll: int = 0  # Unrolled GAN: G's loss against D after K more updates
    unroll_batch: str = "fresh"  # fresh: each unrolled update draws its own batch; same: all use the step's
    seed: int = 0
    device: str = "auto"
    # Non-finite losses or weights (ganforge.training.loop: roll_back).
    nan_policy: str = "rollback"
    max_rollbacks: int = 3
    # Speed (ganforge.training.performance).
    precision: str = "fp32"  # bf16 / fp16: forward passes under autocast
    compile: bool = False  # torch.compile G and D
    compile_mode: str = "default"  # with compile: torch.compile's mode (COMPILE_MODES)
    channels_last: bool = False  # NHWC images and convolution weights
    # The run folder.
    run: str | None = None
    runs_dir: str = "runs"
    sample_every: int = 500
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 25
    grid_size: int = 64
    tensorboard: bool = True
    progress: bool = True
    # Evaluation during training (0: off). FID is always among the metrics:
    # it picks the `best` checkpoint.
    eval_every: int = 0
    eval_metrics: list[str] = field(default_factory=lambda: ["fid"])
    eval_n: int = 5000
    eval_data_root: str | None = None  # super-resolution: the HR test images --eval-every scores (e.g. Set5)
    extractor: str = "auto"
    inception_weights: str | None = None

    def __post_init__(self) -> None:
        check_types(self)
        self.validate()

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise GanforgeError(f"--{f.name.replace('_', '-')} must be a finite number, got {value}")
        positive = ("steps", "batch_size", "sample_every", "checkpoint_every", "keep_checkpoints", "log_every", "grid_size", "z_dim")
        for name in positive:
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise GanforgeError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.holdout < 0:
            raise GanforgeError(f"--holdout must be 0 (none) or more images, got {self.holdout}")
        if self.masks is not None and self.masks not in MASK_KINDS:
            raise GanforgeError(f"--masks must be one of {', '.join(MASK_KINDS)}, got '{self.masks}'")
        if self.d_steps is not None and self.d_steps < 1:
            raise GanforgeError(f"--d-steps must be at least 1, got {self.d_steps}")
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise GanforgeError(f"--{name.replace('_', '-')} must be positive, got {value}")
        for name in ("beta1", "beta2", "momentum"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise GanforgeError(f"--{name} must be in [0, 1), got {value}")
        for name in ("clip", "gp", "r1"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise GanforgeError(f"--{name} must be 0 (off) or positive, got {value}")
        if self.pack is not None and self.pack < 1:
            raise GanforgeError(f"--pack must be at least 1 (1: off), got {self.pack}")
        if self.batch_size is not None and self.pack is not None and self.batch_size % self.pack:
            raise GanforgeError(
                f"--batch-size {self.batch_size} is not divisible by --pack {self.pack}: D judges packs of {self.pack} samples"
            )
        for name in ("minibatch_disc", "unroll"):
            if getattr(self, name) < 0:
                raise GanforgeError(f"--{name.replace('_', '-')} must be 0 (off) or positive, got {getattr(self, name)}")
        if self.unroll_batch not in UNROLL_BATCHES:
            raise GanforgeError(f"--unroll-batch must be one of {', '.join(UNROLL_BATCHES)}, got '{self.unroll_batch}'")
        if self.ema is not None and not 0.0 <= self.ema < 1.0:
            raise GanforgeError(f"--ema must be a decay in [0, 1) (0: off; 0.999 is typical), got {self.ema}")
        if self.lr_decay_start is not None and not 0.0 <= self.lr_decay_start < 1.0:
            raise GanforgeError(f"--lr-decay-start must be a fraction of --steps in [0, 1), got {self.lr_decay_start}")
        if not isinstance(self.objective_options, dict):
            raise GanforgeError(f"objective_options must be a mapping of KEY: VALUE, got {self.objective_options!r}")
        if self.lr_decay is not None and self.lr_decay not in LR_DECAYS:
            raise GanforgeError(f"--lr-decay must be one of {', '.join(LR_DECAYS)}, got '{self.lr_decay}'")
        if self.precision not in PRECISIONS:
            raise GanforgeError(f"--precision must be one of {', '.join(PRECISIONS)}, got '{self.precision}'")
        if self.compile_mode not in COMPILE_MODES:
            raise GanforgeError(f"--compile-mode must be one of {', '.join(COMPILE_MODES)}, got '{self.compile_mode}'")
        if self.compile_mode != "default" and not self.compile:
            raise GanforgeError(f"--compile-mode {self.compile_mode} needs --compile")
        if self.optimizer is not None and self.optimizer not in OPTIMIZERS:
            raise GanforgeError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got '{self.optimizer}'")
        if isinstance(self.diffaugment, list):
            self.diffaugment = ",".join(str(p) for p in self.diffaugment)
        parse_policy(self.diffaugment)
        if self.run is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.run):
            raise GanforgeError(f"--run name '{self.run}' may use only letters, digits, '.', '_' and '-'")
        if self.eval_every < 0:
            raise GanforgeError(f"--eval-every must be 0 (off) or positive, got {self.eval_every}")
        if self.eval_n < 2:
            raise GanforgeError(f"--eval-n must be at least 2, got {self.eval_n}")
        if isinstance(self.eval_metrics, str):
            self.eval_metrics = [m for m in self.eval_metrics.split(",") if m]
        if self.nan_policy not in NAN_POLICIES:
            raise GanforgeError(f"--nan-policy must be one of {', '.join(NAN_POLICIES)}, got '{self.nan_policy}'")
        if self.max_rollbacks < 0:
            raise GanforgeError(f"--max-rollbacks must be 0 or more, got {self.max_rollbacks}")
        if self.channels is not None and self.channels not in (1, 3):
            raise GanforgeError(f"--channels must be 1 or 3, got {self.channels}")

    def run_name(self) -> str:
        """The run folder's name: --run, or derived from model and data."""
        return self.run or f"{self.model}-{self.data}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise GanforgeError(f"unknown config field(s): {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        return cls(**data)

    def with_model_defaults(self, defaults: dict[str, Any]) -> TrainConfig:
        """Fill unset hyper-parameters from the model's defaults, then ganforge's."""
        filled = {
            name: getattr(self, name)
            if getattr(self, name) is not None
            else defaults.get(name, FALLBACK_DEFAULTS[name])
            for name in MODEL_DEFAULTED_FIELDS
        }
        # Each optimizer's own settings; another's, when given, are refused by name.
        own = {"adam": ("beta1", "beta2"), "rmsprop": (), "sgd": ("momentum",)}[filled["optimizer"]]
        foreign = [name for name in ("beta1", "beta2", "momentum") if name not in own]
        given = [f"--{name}" for name in foreign if getattr(self, name) is not None]
        if given:
            raise GanforgeError(f"{' and '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to the {filled['optimizer']} optimizer")
        filled.update({name: None for name in foreign})
        return dataclasses.replace(self, **filled)


TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a mapping", list: "a list"}


def check_types(config: TrainConfig) -> None:
    """Every field of `config` against its declared type: a config file's
    "steps": "5" or "lr_g": "fast" is refused naming the key, the value and
    the type (an int where a float is declared becomes that float)."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        accepted = _accepted_types(hints[f.name])
        if value is None and type(None) in accepted:
            continue
        if float in accepted and type(value) is int and bool not in accepted:
            setattr(config, f.name, float(value))  # JSON's 1 for 1.0
            continue
        if f.name == "diffaugment" and isinstance(value, list):  # a policy may be given as a list
            continue
        if f.name == "eval_metrics" and isinstance(value, str):  # or as one comma-separated string
            continue
        # bool is an int in Python, but "steps": true is not a number of steps.
        if not any(type(value) is kind or (kind not in (int, float) and isinstance(value, kind)) for kind in accepted):
            expected = " or ".join(TYPE_NAMES.get(kind, "null" if kind is type(None) else kind.__name__) for kind in accepted)
            raise GanforgeError(f"setting '{f.name}' must be {expected}, got {value!r} ({type(value).__name__})")
        if isinstance(value, list) and not all(isinstance(item, str) for item in value):
            raise GanforgeError(f"setting '{f.name}' must be a list of strings, got {value!r}")


def _accepted_types(hint: Any) -> tuple[type, ...]:
    """int | None -> (int, NoneType); dict[str, Any] -> (dict,)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return tuple(kind for part in typing.get_args(hint) for kind in _accepted_types(part))
    origin = typing.get_origin(hint)
    return (origin if origin is not None else hint,)


def parse_option_value(text: str) -> Any:
    """Parse a KEY=VALUE option value: int, float, bool, none, comma list, or string."""
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("none", "null"):
        return None
    if "," in text:
        return [parse_option_value(part) for part in text.split(",") if part]
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def parse_options(items: list[str] | None, kind: str = "model") -> dict[str, Any]:
    """['ngf=32', 'g_hidden=128,256'] -> {'ngf': 32, 'g_hidden': [128, 256]}."""
    options: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise GanforgeError(f"{kind} option '{item}' must look like KEY=VALUE")
        parsed = parse_option_value(value.strip())
        if any(isinstance(v, float) and not math.isfinite(v) for v in (parsed if isinstance(parsed, list) else [parsed])):
            raise GanforgeError(f"{kind} option '{item}' must be a finite number")
        options[key.strip().replace("-", "_")] = parsed
    return options
