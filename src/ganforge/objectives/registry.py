"""Objective registry: `create_objective(name, **options)` with options checked
against the objective's constructor, so an option that does not fit is
refused by name with the valid ones listed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ganforge.registry import Registry, check_options

T = TypeVar("T")
OBJECTIVES: Registry[Callable[..., Any]] = Registry("objective")


def register_objective(name: str, description: str) -> Callable[[T], T]:
    """Register an Objective subclass under `name` (its `name` is set too)."""

    def decorator(cls: T) -> T:
        cls.name = name  # type: ignore[attr-defined]
        OBJECTIVES.register(name, description)(cls)  # type: ignore[arg-type]
        return cls

    return decorator


def objective_options(name: str) -> list[str]:
    """The options objective `name` takes (its constructor's keyword arguments)."""
    return OBJECTIVES.get(name).accepted_options()


def create_objective(name: str, **options: Any) -> Any:
    """Build objective `name`; an unknown option is an error naming the valid ones."""
    entry = OBJECTIVES.get(name)
    check_options("objective", name, options, entry.accepted_options())
    return entry.fn(**options)


def list_objectives() -> list[tuple[str, str]]:
    return [(e.name, e.description) for e in OBJECTIVES]
