"""What a user does with a trained run, one pipeline per task (as diffusers
picks a pipeline class): `ganforge.load(run)` returns a GANPipeline
(`sample`) for a generate run and a TranslationPipeline (`translate`) for a
paired run, a CycleTranslationPipeline (`translate(images, direction=...)`)
for an unpaired run, an UpscalePipeline (`upscale`) for a super-resolution
run and an InpaintPipeline (`inpaint(images, masks)`) for an inpainting run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.errors import GanforgeError
from ganforge.pipelines.generation import GANPipeline, slerp
from ganforge.pipelines.inpainting import InpaintPipeline
from ganforge.pipelines.translation import CycleTranslationPipeline, TranslationPipeline
from ganforge.pipelines.upscaling import UpscalePipeline
from ganforge.runs.folder import task_of_run

PIPELINES: dict[str, Any] = {
    "generate": GANPipeline,
    "paired": TranslationPipeline,
    "unpaired": CycleTranslationPipeline,
    "upscale": UpscalePipeline,
    "inpaint": InpaintPipeline,
}


def load(
    run: str | Path, *, checkpoint: int | str | None = None, device: str = "auto", runs_dir: str | Path = "runs", precise_bn: bool = False
) -> Any:
    """Load a trained run: `ganforge.load("runs/demo").sample(16, seed=0)`, or
    for a translation run `ganforge.load("runs/facades").translate(images)`."""
    run_dir, task = task_of_run(run, runs_dir)
    if task not in PIPELINES:
        raise GanforgeError(f"run {run_dir} is of task '{task}', which this version of ganforge cannot load")
    if task != "generate":
        if precise_bn:
            raise GanforgeError(f"--precise-bn recalibrates a generator of noise; run {run_dir} is of task '{task}'")
        return PIPELINES[task].from_run(run_dir, checkpoint=checkpoint, device=device)
    return GANPipeline.from_run(run_dir, checkpoint=checkpoint, device=device, precise_bn=precise_bn)


__all__ = ["PIPELINES", "CycleTranslationPipeline", "GANPipeline", "InpaintPipeline", "TranslationPipeline", "UpscalePipeline", "load", "slerp"]
