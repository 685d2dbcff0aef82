"""The base of the models' config dataclasses (one per model, in the manner of lerobot's configuration files).

A model's config is a dataclass whose defaults are what configs/ ships; the model builds from it alone and
keeps it as `model.config`. It round-trips through the "model" entry of a checkpoint's config.json, checked
and converted by OmegaConf as a structured config (types, Optional fields, nested configs, unknown keys):

    config.to_dict()                        plain JSON-able dict (nested configs as dicts; unset options left out)
    Config.from_dict(d)                     dict (or Hydra/OmegaConf container) -> config; unknown keys refused
    Config.from_dict(d, saved=True)         the same for a config.json: keys that files written before an option
                                            existed lack take `LEGACY_DEFAULTS` (the value the model then had)
    Config.from_args(config, options)       a model constructor's `config` (a Config or dict) or keyword arguments

A field whose default is `None` is an option that is "unset" unless given (e.g. a DiT variant's width,
overridden); `to_dict` leaves unset options out, so config.json holds what was chosen. Bad values raise
ValueError (constructing a config directly takes its values as given, unchecked but for `__post_init__`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

C = TypeVar("C", bound="ModelConfig")


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value


@dataclasses.dataclass
class ModelConfig:
    """Subclasses are dataclasses; a field whose default_factory is a ModelConfig subclass is a nested config."""

    # keys a config.json saved before an option existed lacks -> the value the model had then (nested: dicts)
    LEGACY_DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        """Subclasses check their values here (run by OmegaConf.to_object too: it calls the constructor)."""

    def to_dict(self) -> dict[str, Any]:
        return _without_none(OmegaConf.to_container(self._checked(lambda: OmegaConf.structured(self))))

    @classmethod
    def from_dict(cls: type[C], d: Mapping[str, Any], saved: bool = False) -> C:
        layers = [cls._legacy_defaults()] if saved else []
        return cls._build(*layers, d)

    @classmethod
    def from_args(cls: type[C], config: C | Mapping[str, Any] | None, options: Mapping[str, Any]) -> C:
        """What a model's constructor was given: its config, a dict of it, or its fields as keyword arguments
        (`options`: what a Hydra config with `_target_` passes), not both."""
        if config is not None and options:
            raise TypeError(f"give a {cls.__name__} or its fields as keyword arguments, not both")
        return config if isinstance(config, cls) else cls.from_dict({**(config or {}), **options})

    def replace(self: C, **changes: Any) -> C:
        """A copy with some fields changed (nested ones may be given as dicts of their own changes)."""
        return type(self)._build(self, changes)

    @classmethod
    def _nested(cls) -> dict[str, type[ModelConfig]]:
        return {f.name: f.default_factory for f in dataclasses.fields(cls)
                if isinstance(f.default_factory, type) and issubclass(f.default_factory, ModelConfig)}

    @classmethod
    def _schema(cls) -> Any:
        """The structured config of the declared defaults (nested: their classes', not an instance's, whose
        __post_init__ may have filled in unset options)."""
        return OmegaConf.merge(OmegaConf.structured(cls), {k: c._schema() for k, c in cls._nested().items()})

    @classmethod
    def _legacy_defaults(cls) -> dict[str, Any]:
        """LEGACY_DEFAULTS, with those of the nested configs' (the outer class's win)."""
        nested = {k: c._legacy_defaults() for k, c in cls._nested().items()}
        return OmegaConf.to_container(OmegaConf.merge({k: v for k, v in nested.items() if v}, cls.LEGACY_DEFAULTS))

    @classmethod
    def _build(cls: type[C], *layers: Any) -> C:
        """The defaults, with `layers` (dicts, OmegaConf containers or configs) merged on in turn -> a config."""
        return cls._checked(lambda: OmegaConf.to_object(OmegaConf.merge(cls._schema(), *layers)))

    @classmethod
    def _checked(cls, make: Any) -> Any:
        """make(), OmegaConf's errors (type, unknown key) raised as a one-line ValueError naming the key."""
        try:
            return make()
        except ConfigKeyError as e:
            where = e.object_type or cls
            known = ", ".join(f.name for f in dataclasses.fields(where)) if dataclasses.is_dataclass(where) else ""
            at = f" (in {cls.__name__}.{e.full_key})" if e.full_key != e.key else ""
            known = f"; known: {known}" if known else ""
            raise ValueError(f"unknown {where.__name__} option {e.key!r}{at}{known}") from e
        except OmegaConfBaseException as e:
            message = str(getattr(e, "msg", None) or e).splitlines()[0]
            raise ValueError(f"{cls.__name__}{'.' + e.full_key if e.full_key else ''}: {message}") from e
