"""Point data: samples that are vectors (N x D floats), not images.

The 2-D mixtures of the mode-collapse literature (ring, grid) are point data.
`PointData` offers what the training loop uses of `ImageData` (batches, a
length, a sample shape, a description) so the same loop trains on it; it also
carries the mixture that drew the points, so mode metrics know the modes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ganforge.errors import GanforgeError


@dataclass(frozen=True)
class GaussianMixture:
    """Equal-weight isotropic Gaussians: centres `means` (K x D), one `std`."""

    means: torch.Tensor
    std: float

    @property
    def num_modes(self) -> int:
        return len(self.means)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """`n` points and the index of the component each was drawn from."""
        components = torch.randint(self.num_modes, (n,), generator=generator)
        noise = torch.randn(n, self.means.shape[1], generator=generator)
        return self.means[components] + self.std * noise, components


@dataclass
class PointData:
    """Points (float32, N x D) drawn from a known Gaussian mixture."""

    points: torch.Tensor
    mixture: GaussianMixture
    name: str = ""
    origin: str = ""
    notes: list[str] = field(default_factory=list)
    # Point data is unlabelled to the models (the component each point came
    # from is a property of the benchmark, not a class to condition on).
    labels: None = None
    class_names: None = None

    def __post_init__(self) -> None:
        if self.points.dim() != 2 or not self.points.is_floating_point():
            raise ValueError("PointData.points must be a float tensor of shape N x D")
        if len(self.points) == 0:
            raise GanforgeError(f"data source '{self.name}' has no points ({self.origin})")
        self.points = self.points.to(torch.float32).contiguous()

    def __len__(self) -> int:
        return len(self.points)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The shape of one sample, (D,): the name is shared with ImageData."""
        return (int(self.points.shape[1]),)

    @property
    def num_classes(self) -> int:
        return 0

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.points.index_select(0, indices), None

    def to(self, device: torch.device | str) -> PointData:
        return PointData(self.points.to(device), self.mixture, self.name, self.origin, list(self.notes))

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self)} points in {self.image_shape[0]}-D from {self.mixture.num_modes} "
            f"Gaussians (std {self.mixture.std}) ({self.origin})"
        )


def is_point_data(data: object) -> bool:
    return isinstance(data, PointData)
