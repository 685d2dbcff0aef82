"""The base of the models' config dataclasses (one per model, in the manner of lerobot's configuration files).

A model's config is a dataclass whose defaults are what configs/ ships; the model builds from it alone and
keeps it as `model.config`. It round-trips through the "model" entry of a checkpoint's config.json:

    config.to_dict()                        plain JSON-able dict (nested configs as dicts; unset options left out)
    Config.from_dict(d)                     dict (or Hydra/OmegaConf container) -> config; unknown keys refused
    Config.from_dict(d, saved=True)         the same for a config.json: keys that files written before an option
                                            existed lack take `LEGACY_DEFAULTS` (the value the model then had)
    Config.from_args(config, options)       a model constructor's `config` (a Config or dict) or keyword arguments

A field whose default is `None` is an option that is "unset" unless given (e.g. a DiT variant's width,
overridden); `to_dict` leaves unset options out, so config.json holds what was chosen.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

C = TypeVar("C", bound="ModelConfig")


def plain(value: Any) -> Any:
    """Hydra/OmegaConf containers (and tuples) -> dicts and lists, so a config stays JSON-serialisable."""
    if isinstance(value, ModelConfig):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(v) for v in value]
    return value


def _merge(defaults: dict, given: dict) -> dict:
    out = dict(given)
    for key, value in defaults.items():
        if isinstance(value, dict) and isinstance(out.get(key), Mapping):
            out[key] = _merge(value, dict(out[key]))
        elif key not in out:
            out[key] = value
    return out


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """int/float/bool/str fields (or Optional ones) take what YAML or JSON gave them as that type."""
    if value is None:
        return None
    options = [a for a in typing.get_args(hint) if a is not type(None)] \
        if typing.get_origin(hint) in (typing.Union, types.UnionType) else [hint]
    if len(options) != 1:
        return value
    kind = options[0]
    if kind is bool:
        if not isinstance(value, (bool, int)):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return bool(value)
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        number = float(value)
        if kind is int and number != int(number):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return int(number) if kind is int else number
    if kind is str:
        return str(value)
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind) or (Any,)
        return [_coerce(v, item, name) for v in value]
    return value


@dataclasses.dataclass
class ModelConfig:
    """Subclasses are dataclasses; a field whose default_factory is a ModelConfig subclass is a nested config."""

    # keys a config.json saved before an option existed lacks -> the value the model had then (nested: dicts)
    LEGACY_DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            nested = self._nested_type(f)
            if nested is not None:
                if isinstance(value, Mapping):
                    value = nested.from_dict(value)
                elif not isinstance(value, nested):
                    raise ValueError(f"{type(self).__name__}.{f.name} must be a mapping, got {value!r}")
            else:
                value = _coerce(plain(value), hints.get(f.name, Any), f"{type(self).__name__}.{f.name}")
            setattr(self, f.name, value)

    @staticmethod
    def _nested_type(f: dataclasses.Field) -> type[ModelConfig] | None:
        factory = f.default_factory
        return factory if isinstance(factory, type) and issubclass(factory, ModelConfig) else None

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value.to_dict() if isinstance(value, ModelConfig) else plain(value)
        return out

    @classmethod
    def from_dict(cls: type[C], d: Mapping[str, Any], saved: bool = False) -> C:
        d = plain(d)
        if not isinstance(d, dict):
            raise ValueError(f"{cls.__name__}: expected a mapping, got {d!r}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(d) - set(known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} option(s) {sorted(unknown)} (known: {', '.join(known)})")
        if saved:
            d = _merge(cls.LEGACY_DEFAULTS, d)
        kwargs = {}
        for name, value in d.items():
            nested = cls._nested_type(known[name])
            is_dict = nested is not None and isinstance(value, Mapping)
            kwargs[name] = nested.from_dict(value, saved) if is_dict else value
        return cls(**kwargs)

    @classmethod
    def from_args(cls: type[C], config: C | Mapping[str, Any] | None, options: Mapping[str, Any]) -> C:
        """What a model's constructor was given: its config, a dict of it, or its fields as keyword arguments
        (`options`: what a Hydra config with `_target_` passes), not both."""
        if config is not None and options:
            raise TypeError(f"give a {cls.__name__} or its fields as keyword arguments, not both")
        return config if isinstance(config, cls) else cls.from_dict({**(config or {}), **options})

    def replace(self: C, **changes: Any) -> C:
        """A copy with some fields changed (nested ones may be given as dicts of their own changes)."""
        current = self.to_dict()
        for key, value in changes.items():
            if isinstance(value, Mapping) and isinstance(current.get(key), dict):
                value = {**current[key], **plain(value)}
            current[key] = value
        return type(self).from_dict(current)
