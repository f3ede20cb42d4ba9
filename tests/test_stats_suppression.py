"""Casualty suppression that holds across periods (security issue 10).

The attack: subtract two published figures, e.g. casualties in 2025-2026 minus those in 2025,
to get a count hidden as "<5", and tie a figure to the one accident behind it (accidents are
public points). The rule (docs/statistics.md): a year's figure is *small* when it counts 1 to
4 people or people from fewer than 3 accidents; a period's figure is published only when no
year of it is small; a breakdown only when none of its cells is small in any year; by area only
for victim_assistance and admin.

The test builds casualties over 2020-2026, computes the statistics for every period (every
range of 2020..2027 and all years) and every breakdown as each role below victim_assistance
sees them, works out independently which people each published figure counts, and checks that
no published figure, and no difference of two published figures one of which counts a subset
of the other's people, is a count from 1 to 4 or the people of 1 or 2 accidents. A control
shows that the same check fails on the exact figures victim assistance sees.
"""

from __future__ import annotations

from itertools import combinations_with_replacement
from typing import Any

import pytest
import shapely

from demine.ids import uuid7
from demine.model.kinds import layer_kind
from demine.model.schema import FieldSpec, Record
from demine.model.schema import FieldType as T
from demine.services.stats import MIN_ACCIDENTS, SMALL, SMALL_LIMIT, WITHHELD, compute

YEARS = range(2020, 2028)
PERIODS: list[str | None] = [None] + [
    f"{a}-{b}" if a != b else str(a) for a, b in combinations_with_replacement(YEARS, 2)
]
BELOW = ("public", "field", "analyst")  # roles that see suppressed figures
AREAS = {"west": shapely.box(35.9, 47.9, 36.0, 48.1), "east": shapely.box(36.0, 47.9, 36.1, 48.1)}

# year -> accidents: (accident_type, area, [(outcome, sex, age, victim_type), ...])
V = tuple[str, str, int, str]


def _people(n: int, outcome: str = "injured", sex: str = "male", age: int = 40) -> list[V]:
    return [(outcome, sex, age, "civilian")] * n


CASUALTIES: dict[int, list[tuple[str, str, list[V]]]] = {
    2020: [("civilian", "west", [])],  # an accident, nobody hurt
    # 6 people from 3 accidents: the total is published, killed 1 is small
    2021: [
        ("civilian", "west", _people(1, "killed") + _people(2)),
        ("civilian", "east", _people(2)),
        ("demining", "east", [("injured", "male", 30, "deminer")]),
    ],
    2022: [("civilian", "west", _people(2, sex="female", age=9))],  # "<5"
    # 7 people from 2 accidents: not small by count, small by accidents
    2023: [("civilian", "west", _people(4)), ("civilian", "east", _people(3))],
    # 20 people from 4 accidents, killed 5 from 3: every breakdown publishable
    2024: [
        ("civilian", "west", _people(2, "killed") + _people(3)),
        ("civilian", "west", _people(2, "killed") + _people(4)),
        ("civilian", "east", _people(1, "killed") + _people(4)),
        ("civilian", "east", _people(4)),
    ],
    2025: [("civilian", "west", _people(4)) for _ in range(3)],  # 12 from 3, killed 0
    2026: [("demining", "east", [("injured", "male", 35, "deminer")] * 6)],  # 6 from 1 accident
}


@pytest.fixture
def people(store: Any) -> dict[str, dict[str, Any]]:
    """The store's casualties: victim id -> what the statistics count it by."""
    kind = layer_kind("oblasts", (FieldSpec("name", T.TEXT, "Name"),))
    store.create_layer(kind)
    store.upsert(
        "oblasts",
        [
            Record("oblasts", uuid7(), {"name": n}, shapely.MultiPolygon([g]))
            for n, g in AREAS.items()
        ],
        actor="t",
    )
    accidents, victims, out = [], [], {}
    for year, accs in CASUALTIES.items():
        for i, (atype, area, vs) in enumerate(accs):
            c = AREAS[area].centroid
            a = Record(
                "accidents",
                uuid7(),
                {"occurred_at": f"{year}-0{1 + i}-15T10:00:00Z", "accident_type": atype},
                shapely.Point(c.x, c.y + 0.01 * i),
            )
            accidents.append(a)
            for outcome, sex, age, vtype in vs:
                v = Record(
                    "victims",
                    uuid7(),
                    {
                        "accident_id": a.id,
                        "outcome": outcome,
                        "sex": sex,
                        "age": age,
                        "victim_type": vtype,
                    },
                )
                victims.append(v)
                out[v.id] = {
                    "accident": a.id,
                    "year": str(year),
                    "area": area,
                    "outcome": outcome,
                    "sex": sex,
                    "age_group": "child" if age < 18 else "adult",
                    "victim_type": vtype,
                    "accident_type": atype,
                }
    store.upsert("accidents", accidents, actor="t")
    store.upsert("victims", victims, actor="t")
    return out


def _years(period: str | None) -> set[str]:
    if period is None:
        return {str(y) for y in CASUALTIES}
    a, _, b = period.partition("-")
    return {str(y) for y in range(int(a), int(b or a) + 1)}


def published(
    store: Any, people: dict[str, dict[str, Any]], role: str, by: str | None = None
) -> list[tuple[str, int, frozenset[str]]]:
    """Every figure ``role`` is shown as a number, over every period: (label, value, the ids
    of the people it counts, worked out here from the records)."""
    out = []
    for period in PERIODS:
        cas = compute(store, role=role, period=period, by=by)["casualties"]
        years = _years(period)
        mine = {vid for vid, p in people.items() if p["year"] in years}
        if isinstance(cas["total"], int):
            out.append((f"{period} total", cas["total"], frozenset(mine)))
        else:
            assert cas["total"] in (SMALL, WITHHELD), cas["total"]
            if cas["total"] == SMALL:
                assert 0 < len(mine) < SMALL_LIMIT
        for group, b in cas["breakdowns"].items():
            for key, value in b["cells"].items():
                if value is None:
                    assert b["withheld"]
                    continue
                ids = frozenset(vid for vid in mine if str(people[vid][group]) == str(key))
                if group == "year":
                    ids = frozenset(vid for vid in mine if people[vid]["year"] == key)
                assert value == len(ids), (period, group, key)  # the figure is right
                out.append((f"{period} {group}={key}", value, ids))
    return out


def _small(ids: frozenset[str], people: dict[str, dict[str, Any]]) -> bool:
    accidents = {people[v]["accident"] for v in ids}
    return bool(ids) and (len(ids) < SMALL_LIMIT or len(accidents) < MIN_ACCIDENTS)


def _leaks(
    figures: list[tuple[str, int, frozenset[str]]], people: dict[str, dict[str, Any]]
) -> list[str]:
    """Figures, and differences of nested figures, that count 1 to 4 people or the people of
    1 or 2 accidents."""

    def small(ids: frozenset[str]) -> bool:
        return _small(ids, people)

    out = [f"{label} = {n}" for label, n, ids in figures if small(ids)]
    sets = {ids: label for label, _, ids in figures}
    for big, big_label in sets.items():
        for part, part_label in sets.items():
            if part < big and small(big - part):
                out.append(f"{big_label} - {part_label} = {len(big - part)}")
    return out


@pytest.mark.parametrize("role", BELOW)
def test_no_small_count_from_figures_or_their_differences(
    store: Any, people: dict[str, dict[str, Any]], role: str
) -> None:
    figures = published(store, people, role)
    assert not _leaks(figures, people)
    assert all(n == 0 or n >= SMALL_LIMIT for _, n, _ in figures)
    labels = {label: n for label, n, _ in figures}
    # what is published: years with no small figure, and periods made only of them
    assert labels["2024 total"] == 20 and labels["2025 total"] == 12
    assert labels["2024-2025 total"] == 32 and labels["2024 outcome=killed"] == 5
    assert labels["2025 outcome=killed"] == 0 and labels["2024-2025 age_group=adult"] == 32
    assert labels["2021 total"] == 6 and labels["2020 total"] == 0
    assert labels["2027 total"] == 0
    # and what is not: every period holding 2022 (1-4), 2023 (2 accidents), 2026 (1 accident)
    for period in ("2023", "2026", "2025-2026", "2022-2024", "None"):
        assert f"{period} total" not in labels
    assert compute(store, role=role, period="2022")["casualties"]["total"] == SMALL
    assert compute(store, role=role, period="2025-2026")["casualties"]["total"] == WITHHELD
    assert compute(store, role=role)["casualties"]["total"] == WITHHELD


def test_the_check_finds_the_leaks_in_exact_figures(
    store: Any, people: dict[str, dict[str, Any]]
) -> None:
    """The control: victim assistance sees exact figures, in which the check finds small
    counts and the subtraction of overlapping periods (2025-2026 minus 2025)."""
    figures = published(store, people, "victim_assistance")
    leaks = _leaks(figures, people)
    assert "2022 total = 2" in leaks and len(leaks) > 10
    f = {label: ids for label, _, ids in figures}
    diff = f["2025-2026 total"] - f["2025 total"]  # 2026: one accident's 6 casualties
    assert len(diff) == 6 and _small(diff, people)


@pytest.mark.parametrize("role", BELOW)
def test_casualties_by_area_only_for_victim_assistance(
    store: Any, people: dict[str, dict[str, Any]], role: str
) -> None:
    """Any reference layer may be chosen: two layers with nested areas could be subtracted, so
    the area breakdown is withheld for every role below victim_assistance."""
    for period in ("2024", "2024-2025", None):
        pub = compute(store, role=role, by="oblasts", period=period)["casualties"]
        assert pub["breakdowns"]["area"]["withheld"]
        assert set(pub["breakdowns"]["area"]["cells"].values()) == {None}
    exact = compute(store, role="victim_assistance", by="oblasts", period="2024")["casualties"]
    assert exact["breakdowns"]["area"]["cells"] == {"west": 11, "east": 9}
    assert not _leaks(published(store, people, role, by="oblasts"), people)
