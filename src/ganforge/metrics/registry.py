"""The metric registry: name -> function(real, fake, **options) -> {key: value}."""

from __future__ import annotations

from collections.abc import Callable

from ganforge.errors import GanforgeError
from ganforge.registry import Registry

MetricFn = Callable[..., dict[str, float]]
METRICS: Registry[MetricFn] = Registry("metric")


def register_metric(name: str, description: str) -> Callable[[MetricFn], MetricFn]:
    """Register `fn(real: Features, fake: Features) -> dict[str, float]` under `name`."""
    return METRICS.register(name, description)


def list_metrics() -> list[tuple[str, str]]:
    return [(e.name, e.description) for e in METRICS]


def parse_metric_names(spec: str | list[str]) -> list[str]:
    """'fid,kid' or ['fid', 'kid'] -> validated names, in order, without repeats."""
    names = [n.strip().lower() for n in (spec.split(",") if isinstance(spec, str) else spec) if n.strip()]
    if not names:
        raise GanforgeError(f"no metrics named; choose from {', '.join(METRICS.names())}")
    for name in names:
        METRICS.get(name)  # raises, listing the valid names
    return list(dict.fromkeys(names))
