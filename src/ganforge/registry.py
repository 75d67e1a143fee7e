"""A small name -> factory registry shared by models, data sources and losses."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ganforge.errors import GanforgeError, unknown_choice

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry(Generic[F]):
    name: str
    fn: F
    description: str

    def accepted_options(self) -> list[str]:
        """Keyword arguments the factory accepts (for validation and help)."""
        params = inspect.signature(self.fn).parameters.values()
        return [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]

    def with_word_none(self, options: dict[str, Any]) -> dict[str, Any]:
        """`-O KEY=none` parses to None; for an option whose default is a
        string (a choice such as d_norm), it means the choice 'none'."""
        params = inspect.signature(self.fn).parameters
        return {
            key: "none" if value is None and key in params and isinstance(params[key].default, str) else value
            for key, value in options.items()
        }


class Registry(Generic[F]):
    """Maps names to factories; `kind` names what is registered in error messages."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[F]] = {}

    def register(self, name: str, description: str) -> Callable[[F], F]:
        def decorator(fn: F) -> F:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self._entries[name] = Entry(name, fn, description)
            return fn

        return decorator

    def get(self, name: str) -> Entry[F]:
        try:
            return self._entries[name]
        except KeyError:
            raise unknown_choice(self.kind, name, self._entries) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[F]]:
        return iter(self._entries[n] for n in self.names())


def check_options(kind: str, name: str, options: dict[str, Any], accepted: list[str]) -> None:
    """Reject options a factory does not take, naming them and the valid ones."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        valid = ", ".join(accepted) or "none"
        raise GanforgeError(
            f"option(s) {', '.join(unknown)} do not apply to {kind} '{name}'; valid options: {valid}"
        )
