"""Data-source registry: `load_data(name, **options)` returns an ImageData."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ganforge.data.base import ImageData
from ganforge.registry import Registry, check_options

DataSourceFn = Callable[..., ImageData]
DATA_SOURCES: Registry[DataSourceFn] = Registry("data source")


def register_data_source(name: str, description: str) -> Callable[[DataSourceFn], DataSourceFn]:
    """Register a loader `fn(**options) -> ImageData` under `name`."""
    return DATA_SOURCES.register(name, description)


def list_data_sources() -> list[tuple[str, str]]:
    return [(e.name, e.description) for e in DATA_SOURCES]


def load_data(name: str, **options: Any) -> ImageData:
    """Load data source `name`.

    Options left at None/False are dropped, so a source only sees what the
    user set; an option the source does not take is an error naming it.
    """
    entry = DATA_SOURCES.get(name)
    given = {k: v for k, v in options.items() if v is not None and v is not False}
    check_options("data source", name, given, entry.accepted_options())
    return entry.fn(**given)
