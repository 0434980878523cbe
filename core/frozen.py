"""Frozen records: `@frozen_record` makes a frozen dataclass without compiling code for it.

`@dataclass(frozen=True)` writes the source of `__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__` and
`__delattr__` for every class and compiles each with `exec`: 1.5 ms for a small class and 4 ms for one of 25
fields on this project's 2-core machine. Core defines some 50 records (32 of them audit events) and every `modelgov`
process imports most of them to answer one read, so that compiling was a tenth of a CLI call. `@frozen_record` lets
`dataclasses` collect the fields (so `fields`, `asdict`, `replace` and `is_dataclass` work as before) and gives
the class the six methods below, written once, which read the fields from a tuple kept on the class. Instances
behave as a frozen dataclass's do (tests/core/test_frozen_records.py holds them to it); a class that needs more
(field options, `__post_init__`, its own `__eq__`) is made by `dataclass(frozen=True)` itself.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, FrozenInstanceError, dataclass, fields
from typing import Any, dataclass_transform


@dataclass_transform(frozen_default=True)
def frozen_record(cls: type) -> type:
    """The class as a frozen dataclass, its methods shared with every other record."""
    own = cls.__dict__
    if any(name in own for name in ("__post_init__", "__eq__", "__hash__", "__setattr__", "__delattr__")) or any(
            isinstance(v, Field) and not (v.init and v.repr and v.compare and v.hash is None and v.kw_only in (
                MISSING, False)) for v in own.values()):
        return dataclass(frozen=True)(cls)
    cls = dataclass(cls, init=False, repr=False, eq=False)
    cls._record_fields = tuple((f.name, f.default, f.default_factory) for f in fields(cls))
    for name, method in _METHODS.items():
        if name not in own:
            setattr(cls, name, method)
    return cls


def _init(self, *args: Any, **kwargs: Any) -> None:
    spec, name = type(self)._record_fields, type(self).__qualname__
    if len(args) > len(spec):
        raise TypeError(f"{name}() takes {len(spec)} positional argument(s) but {len(args)} were given")
    for (field, _default, _factory), value in zip(spec, args):
        if field in kwargs:
            raise TypeError(f"{name}() got multiple values for argument '{field}'")
        object.__setattr__(self, field, value)
    for field, default, factory in spec[len(args):]:
        if field in kwargs:
            value = kwargs.pop(field)
        elif default is not MISSING:
            value = default
        elif factory is not MISSING:
            value = factory()
        else:
            raise TypeError(f"{name}() missing required argument: '{field}'")
        object.__setattr__(self, field, value)
    if kwargs:
        raise TypeError(f"{name}() got an unexpected keyword argument '{next(iter(kwargs))}'")


def _values(self) -> tuple[Any, ...]:
    return tuple(getattr(self, field) for field, _d, _f in type(self)._record_fields)


def _repr(self) -> str:
    return f"{type(self).__qualname__}(" + ", ".join(
        f"{field}={getattr(self, field)!r}" for field, _d, _f in type(self)._record_fields) + ")"


def _eq(self, other: object) -> bool:
    if other.__class__ is self.__class__:
        return _values(self) == _values(other)
    return NotImplemented


def _hash(self) -> int:
    return hash(_values(self))


def _setattr(self, field: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field '{field}'")


def _delattr(self, field: str) -> None:
    raise FrozenInstanceError(f"cannot delete field '{field}'")


_METHODS = {"__init__": _init, "__repr__": _repr, "__eq__": _eq, "__hash__": _hash, "__setattr__": _setattr,
            "__delattr__": _delattr}
