"""Named, versioned registries ("focal.v1", "cosine.v1") that run configs refer to.

A registry is filled once, at import of the module that defines its functions, and
read-only afterwards, so old configs keep resolving when a new version is added.
"""
from __future__ import annotations

import inspect
import re
from typing import Callable, TypeVar

from core.errors import ConfigError

F = TypeVar("F", bound=Callable)
_NAME = re.compile(r"^[a-z][a-z0-9_]*\.v[0-9]+$")


class Registry:
    """A mapping from versioned names to functions of one family (losses, schedules, ...)."""

    def __init__(self, family: str):
        self.family = family
        self._items: dict[str, Callable] = {}

    def register(self, name: str) -> Callable[[F], F]:
        """Decorator adding a function under `name` (form 'name.vN'); names are never reused."""
        if not _NAME.match(name):
            raise ValueError(f"registry name {name!r} must look like 'name.v1'")

        def add(func: F) -> F:
            if name in self._items:
                raise ValueError(f"{self.family} {name!r} is already registered")
            self._items[name] = func
            return func

        return add

    def get(self, name: str) -> Callable:
        """The function registered under `name`; ConfigError listing the known names otherwise."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise ConfigError(f"unknown {self.family} {name!r}; known: {known}") from None

    def bind(self, name: str, params: dict) -> Callable:
        """The function under `name`, after checking that every key of `params` is one of its
        keyword-only parameters (ConfigError naming the unknown one otherwise)."""
        func = self.get(name)
        allowed = [p.name for p in inspect.signature(func).parameters.values()
                   if p.kind is inspect.Parameter.KEYWORD_ONLY]
        for key in params:
            if key not in allowed:
                raise ConfigError(f"{self.family} {name!r} has no parameter {key!r}; "
                                  f"allowed: {', '.join(allowed) or 'none'}")
        return func

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
