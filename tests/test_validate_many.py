"""validate_many (an import's property checks, column by column) gives, feature by feature,
exactly what validate_properties gives: the same clean values, extra keys (in input order) and
faults (texts, fields and order), on messy property sets of every kind."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from demine.model.kinds import KINDS, Kind, layer_kind
from demine.model.schema import FieldSpec, FieldType, validate_many, validate_properties

T = FieldType
U = str(uuid.UUID(int=0x1234_5678_9ABC_4DEF_8123_4567_89AB_CDEF))

# values any field may be given: wrong types, blanks, look-alikes
ANY: list[Any] = [
    None,
    "",
    "   ",
    " x ",
    "unknown",
    "UNKNOWN ",
    0,
    1,
    -1,
    2,
    True,
    False,
    0.0,
    -0.0,
    1.0,
    2.5,
    float("nan"),
    float("inf"),
    "1",
    "0",
    "yes",
    " No ",
    "так",
    "1.0",
    "12.5",
    "2020",
    "2020-03",
    "2020-13",
    "2020-03-01",
    " 2020-03-01 ",
    "2020-02-30",
    "2020-03-01T08:30:00Z",
    "2020-03-01t08:30:00z",
    "2020-03-01T08:30:00+02:00",
    "2020-03-01T08:30:00.123456",
    date(2020, 3, 1),
    datetime(2020, 3, 1, 8, 30, tzinfo=UTC),
    datetime(2020, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=2))),
    datetime(2020, 3, 1, 8, 30),
    [],
    ["a", "b"],
    [1, 2],
    {"a": 1},
    {},
    U,
    U.upper(),
    "{" + U + "}",
    "urn:uuid:" + U,
    U.replace("-", ""),
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "Foo",
    "foo bar",
    10**12,
    -(10**6),
    3.0,
    "3.0",
    " 7 ",
]


def _choice_spellings(choices: tuple[str, ...]) -> list[Any]:
    out: list[Any] = []
    for c in choices:
        out += [c, c.upper(), c.replace("_", "-"), c.replace("_", " "), f" {c.title()} "]
    out.append(", ".join(choices[:2]))
    out.append(list(choices[:2]))
    out.append(f"{choices[0]},,{choices[0]}")
    out.append(f"{choices[0]}, nope")
    return out


def _good(spec: FieldSpec, rng: random.Random) -> Any:
    """A value of the field's own type, most of them valid."""
    t = spec.type
    if spec.choices:
        return rng.choice(_choice_spellings(spec.choices))
    if t is T.TEXT:
        return rng.choice(["Alpha", "Beta", "Beta", " spaced ", "Gamma 3", 5, ""])
    if t is T.INTEGER:
        return rng.choice([0, 1, 3, 7, 40, 7.0, "12", " 9 ", -2, 3.5, True])
    if t is T.REAL:
        return rng.choice([0.5, 1, 2.25, 30.0, "4.5", -1.0, 0.0, -0.0, 7, "x", 1e308 * 10])
    if t is T.BOOLEAN:
        return rng.choice([True, False, 1, 0, 1.0, 2, "yes", "N", "true", "maybe"])
    if t is T.DATE or t is T.DATETIME:
        pool = ["2019-05-01", "2020-01-10", "2021-06-30", "2019", "2020-02", "unknown"]
        pool += ["2022-01-01T00:00:00Z", "2999-01-01", date(2018, 1, 1)]
        return rng.choice(pool)
    if t is T.UUID:
        return rng.choice([U, U.upper(), "{" + U + "}", str(uuid.UUID(int=7)), "nope"])
    return rng.choice(ANY)


def _props(kind: Kind, rng: random.Random, messy: float) -> dict[str, Any]:
    items: list[tuple[str, Any]] = []
    for spec in kind.fields:
        if rng.random() < (0.05 if spec.required else 0.4):
            continue  # missing
        items.append((spec.name, rng.choice(ANY) if rng.random() < messy else _good(spec, rng)))
    for extra in ("foreign", "Status", "remarks", "kind_of", "nested"):
        if rng.random() < 0.25:
            value = rng.choice(ANY) if extra != "nested" else {"a": [1, {"b": None}]}
            items.append((extra, value))
    rng.shuffle(items)
    return dict(items)


def _same(kind: Kind, props_list: list[dict[str, Any]], *, partial: bool = False) -> int:
    indexes = [i if i % 7 else None for i in range(len(props_list))]
    fids = [None if i % 5 == 0 else f"f-{i}" for i in range(len(props_list))]
    many = validate_many(
        kind.fields,
        kind.rules,
        props_list,
        indexes=indexes,
        source="a.geojson",
        feature_ids=fids,
        partial=partial,
    )
    assert len(many) == len(props_list)
    faulty = 0
    for props, index, fid, got in zip(props_list, indexes, fids, many, strict=True):
        want = validate_properties(
            kind.fields,
            kind.rules,
            props,
            index=index,
            source="a.geojson",
            feature_id=fid,
            partial=partial,
        )
        assert repr(got[0]) == repr(want[0]), props  # same values, types and key order
        assert repr(got[1]) == repr(want[1]), props
        assert list(got[1]) == list(props_keys_unknown(kind, props))
        assert got[2] == want[2], props  # same faults, texts and order
        faulty += bool(got[2])
    return faulty


def props_keys_unknown(kind: Kind, props: dict[str, Any]) -> list[str]:
    names = set(kind.field_names)
    return [k for k in props if k not in names]


LAYER = layer_kind(
    "roads",
    (
        FieldSpec("name", T.TEXT),
        FieldSpec("lanes", T.INTEGER),
        FieldSpec("width", T.REAL),
        FieldSpec("paved", T.BOOLEAN),
        FieldSpec("opened", T.DATE),
        FieldSpec("surveyed", T.DATETIME),
        FieldSpec("props", T.TEXT),
    ),
    "MULTILINESTRING",
)
ALL_KINDS = [*KINDS.values(), LAYER]


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.name)
@pytest.mark.parametrize("messy", [0.0, 0.15, 0.6])
def test_every_kind_as_validate_properties(kind: Kind, messy: float) -> None:
    rng = random.Random(f"{kind.name}-{messy}")
    props_list = [_props(kind, rng, messy) for _ in range(600)]
    faulty = _same(kind, props_list)
    assert faulty > 0  # the cases include faults...
    if messy == 0.0 and kind.rules:
        assert faulty < len(props_list)  # ...and records the rules see
    _same(kind, props_list, partial=True)


def test_the_same_values_repeated_over_features() -> None:
    # the coercion kept per field: equal values of other types never share a result
    kind = layer_kind(
        "things",
        (
            FieldSpec("t", T.TEXT),
            FieldSpec("i", T.INTEGER, required=True),
            FieldSpec("r", T.REAL),
            FieldSpec("b", T.BOOLEAN),
        ),
    )
    values: list[Any] = [1, True, 1.0, "1", 0, False, 0.0, -0.0, "0", float("nan"), None, ""]
    props_list = [{"t": v, "i": v, "r": v, "b": v} for v in values * 3]
    _same(kind, props_list)
    got = validate_many(
        kind.fields, (), props_list, indexes=[None] * len(props_list), feature_ids=[None] * 36
    )
    assert [c["t"] for c, _, _ in got[:3]] == ["1", "True", "1.0"]
    assert [c.get("b") for c, _, _ in got[:3]] == [True, True, None]
    assert [repr(c["r"]) for c, _, _ in got[6:8]] == ["0.0", "-0.0"]
    assert got[1][2][0].reason == "expected a whole number, got a boolean"


def test_hazard_status_rules_and_fault_order() -> None:
    hazards = KINDS["hazards"]
    base = {"hazard_type": "sha", "name": "H"}
    props_list = [
        {**base, "status": "Closed"},  # needs closed_on
        {**base, "status": "closed", "closed_on": "2021-05"},
        {**base, "status": "open", "closed_on": "2021-05-01"},
        {**base, "status": "open", "handed_over_to": "village"},
        {**base, "status": "handed over", "closed_on": "2021", "handed_over_on": "2020"},
        {"closed_on": "2021-13-01", "status": "shut", "extra": 1, "area_m2": "x"},
        {"status": "open", "hazard_type": "CHA", "reported_on": "2022", "surveyed_on": "2021"},
    ]
    _same(hazards, props_list)
    got = validate_many(
        hazards.fields,
        hazards.rules,
        props_list,
        indexes=list(range(7)),
        source="s",
        feature_ids=[None] * 7,
    )
    assert [f.field for f in got[5][2]] == ["hazard_type", "status", "closed_on"]
    assert got[5][1] == {"extra": 1}
    assert got[0][2][0].reason == "a hazard with status closed needs closed_on"
