"""Core's records (audit events, models, requests, …) are made by `core.frozen.frozen_record`, which builds no
code per class to keep `modelgov` fast to start: they must behave exactly as `@dataclass(frozen=True)` records."""

from __future__ import annotations

import dataclasses

import pytest

from core import events
from core.events import ModelCreated, RoleGranted
from core.frozen import frozen_record


@dataclasses.dataclass(frozen=True)
class _Reference:
    name: str
    owner: str = ""
    tags: list[str] = dataclasses.field(default_factory=list)


@frozen_record
class _Record:
    name: str
    owner: str = ""
    tags: list[str] = dataclasses.field(default_factory=list)

    @property
    def shout(self) -> str:
        return self.name.upper()


def test_a_record_behaves_as_a_frozen_dataclass():
    r, ref = _Record("a", owner="x"), _Reference("a", owner="x")
    assert repr(r).split("(", 1)[1] == repr(ref).split("(", 1)[1]
    assert dataclasses.asdict(r) == dataclasses.asdict(ref) == {"name": "a", "owner": "x", "tags": []}
    assert [f.name for f in dataclasses.fields(r)] == [f.name for f in dataclasses.fields(ref)]
    assert dataclasses.is_dataclass(r) and dataclasses.replace(r, owner="y") == _Record("a", "y")
    assert r == _Record("a", "x", []) and r != _Record("a") and r != ref and r.shout == "A"
    assert _Record("a").tags is not _Record("a").tags  # a fresh default per instance
    assert hash(RoleGranted("a@x", "viewer")) == hash(RoleGranted("a@x", "viewer"))
    with pytest.raises(TypeError):
        hash(r)  # a list field, as with a dataclass
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.name = "b"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del r.owner  # type: ignore[misc]
    e = ModelCreated("a", owner="x")
    assert e.payload() == {"owner": "x", "risk_tier": "", "tags": None} and e.entity_id == "a"


@pytest.mark.parametrize("make, message", [
    (lambda: _Record(), "missing required argument: 'name'"),
    (lambda: _Record("a", name="b"), "multiple values for argument 'name'"),
    (lambda: _Record("a", nope=1), "unexpected keyword argument 'nope'"),
    (lambda: _Record("a", "b", [], 4), "takes 3 positional argument(s) but 4 were given"),
])
def test_wrong_arguments_are_refused_as_a_dataclass_refuses_them(make, message):
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_a_class_needing_more_is_made_by_dataclass_itself():
    @frozen_record
    class Options:
        a: int
        b: int = dataclasses.field(default=0, compare=False)

    assert Options(1, 2) == Options(1, 3) and "_record_fields" not in vars(Options)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Options(1).a = 2  # type: ignore[misc]


def test_every_event_type_is_a_record_with_an_action():
    for action, cls in events.EVENTS.items():
        assert dataclasses.is_dataclass(cls) and cls.action == action and cls._record_fields == tuple(
            (f.name, f.default, f.default_factory) for f in dataclasses.fields(cls))
