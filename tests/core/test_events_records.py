"""Audit events are frozen dataclasses whose methods come from `Event` (core/events.py builds no code per class, to
keep `modelgov` fast to start): they must behave exactly as `@dataclass(frozen=True)` records do."""

from __future__ import annotations

import dataclasses

import pytest

from core import events
from core.events import ModelCreated, RoleGranted


@dataclasses.dataclass(frozen=True)
class _Reference:
    name: str
    owner: str = ""
    risk_tier: str = ""
    tags: list[str] | None = None


def test_an_event_behaves_as_a_frozen_dataclass():
    e, ref = ModelCreated("a", owner="x"), _Reference("a", owner="x")
    assert repr(e).split("(", 1)[1] == repr(ref).split("(", 1)[1]
    assert dataclasses.asdict(e) == dataclasses.asdict(ref)
    assert [f.name for f in dataclasses.fields(e)] == [f.name for f in dataclasses.fields(ref)]
    assert dataclasses.is_dataclass(e) and dataclasses.replace(e, owner="y") == ModelCreated("a", "y")
    assert e == ModelCreated("a", "x", "", None) and e != ModelCreated("a") and e != ref
    assert hash(RoleGranted("a@x", "viewer")) == hash(RoleGranted("a@x", "viewer"))
    assert e.payload() == {"owner": "x", "risk_tier": "", "tags": None} and e.entity_id == "a"
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.name = "b"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del e.owner  # type: ignore[misc]


@pytest.mark.parametrize("make, message", [
    (lambda: ModelCreated(), "missing required argument: 'name'"),
    (lambda: ModelCreated("a", name="b"), "multiple values for argument 'name'"),
    (lambda: ModelCreated("a", nope=1), "unexpected keyword argument 'nope'"),
    (lambda: ModelCreated("a", "b", "c", None, 5), "takes 4 positional argument(s) but 5 were given"),
])
def test_wrong_arguments_are_refused_as_a_dataclass_refuses_them(make, message):
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_every_event_type_is_a_record_with_an_action():
    for action, cls in events.EVENTS.items():
        assert dataclasses.is_dataclass(cls) and cls.action == action and cls._spec == tuple(
            (f.name, f.default) for f in dataclasses.fields(cls))
