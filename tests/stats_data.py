"""A synthetic year of mine action, built in a store for the statistics tests.

Three admin areas (``west``, ``east``, ``north``) in a reference layer ``oblasts``; three
hazards (one straddling west/east, one straddling east/north, one outside every area);
releases of every type in 2024 and 2025, overlapping each other and reaching outside their
hazard; finds, accidents, victims, EO reports and EORE sessions. Victims' names and contacts and
reporters' contacts are distinctive strings that no output for a role without access may hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import shapely

from demine.ids import uuid7
from demine.model.kinds import layer_kind
from demine.model.schema import FieldSpec, Record
from demine.model.schema import FieldType as T

VICTIM_NAMES = ("Zoryana Testenko-Unikalna", "Bohdan Pryvatnyi-Sekretnyi")
VICTIM_CONTACT = "+380 99 555 0101 victim-family"
REPORTER_NAME = "Ostap Reporterchuk-Osoblyvyi"
REPORTER_CONTACT = "reporter-unique-4417@example.org"
SECRETS = (*VICTIM_NAMES, VICTIM_CONTACT, REPORTER_NAME, REPORTER_CONTACT)

AREAS = {
    "west": shapely.box(35.90, 47.90, 36.00, 48.10),
    "east": shapely.box(36.00, 47.90, 36.10, 48.10),
    "north": shapely.box(35.90, 48.10, 36.10, 48.20),
}


@dataclass
class Year:
    hazards: dict[str, Record] = field(default_factory=dict)
    releases: list[Record] = field(default_factory=list)  # every release, all years
    areas: dict[str, Any] = field(default_factory=lambda: dict(AREAS))


def mp(*boxes: tuple[float, float, float, float]) -> Any:
    return shapely.MultiPolygon([shapely.box(*b) for b in boxes])


def build(store: Any, *, synthetic: bool = True) -> Year:
    y = Year()
    store.set_setting("synthetic", synthetic)
    kind = layer_kind(
        "oblasts", (FieldSpec("name", T.TEXT, "Name"), FieldSpec("code", T.TEXT, "Code"))
    )
    store.create_layer(kind)
    store.upsert(
        "oblasts",
        [
            Record(
                "oblasts", uuid7(), {"name": n, "code": n[:2].upper()}, shapely.MultiPolygon([g])
            )
            for n, g in AREAS.items()
        ],
        actor="t",
    )

    h1 = Record(  # straddles west / east at lon 36.00
        "hazards",
        uuid7(),
        {
            "hazard_type": "CHA",
            "status": "open",
            "name": "H1",
            "reference": "HZ-1",
            "reported_on": "2023-05-01",
            "device_categories": "ap_blast",
        },
        mp((35.99, 48.00, 36.01, 48.01)),
    )
    h2 = Record(  # straddles east / north at lat 48.10; wholly cleared in 2025
        "hazards",
        uuid7(),
        {
            "hazard_type": "CHA",
            "status": "closed",
            "closed_on": "2025-06-01",
            "name": "H2",
            "reference": "HZ-2",
            "reported_on": "2023-06-01",
        },
        mp((36.05, 48.095, 36.06, 48.105)),
    )
    h3 = Record(  # in no admin area
        "hazards",
        uuid7(),
        {
            "hazard_type": "SHA",
            "status": "open",
            "name": "H3",
            "reference": "HZ-3",
            "reported_on": "2024-01-10",
        },
        mp((36.20, 48.00, 36.21, 48.01)),
    )
    h4 = Record(  # recorded in 2026: not in a 2025 report
        "hazards",
        uuid7(),
        {
            "hazard_type": "SHA",
            "status": "open",
            "name": "H4",
            "reference": "HZ-4",
            "reported_on": "2026-01-10",
        },
        mp((35.95, 48.05, 35.96, 48.06)),
    )
    store.upsert("hazards", [h1, h2, h3, h4], actor="t")
    y.hazards = {"H1": h1, "H2": h2, "H3": h3, "H4": h4}

    acts: dict[tuple[str, str], Record] = {}
    for hn, h in y.hazards.items():
        for at in ("non_technical_survey", "technical_survey", "clearance"):
            acts[(hn, at)] = Record(
                "activities",
                uuid7(),
                {
                    "hazard_id": h.id,
                    "activity_type": at,
                    "status": "completed",
                    "organisation": "Test Org",
                    "started_on": "2024-01-01",
                    "completed_on": "2025-09-01",
                },
            )
    store.upsert("activities", list(acts.values()), actor="t")
    by_type = {
        "cancelled": "non_technical_survey",
        "reduced": "technical_survey",
        "cleared": "clearance",
    }

    def rel(hn: str, rt: str, on: str, *boxes: tuple[float, float, float, float]) -> Record:
        props: dict[str, Any] = {
            "activity_id": acts[(hn, by_type[rt])].id,
            "release_type": rt,
            "released_on": on,
            "hazard_id": y.hazards[hn].id,  # derived from the activity on every write
        }
        return Record("releases", uuid7(), props, mp(*boxes))

    y.releases = [
        rel("H1", "cleared", "2024-11-01", (36.008, 48.008, 36.010, 48.010)),
        rel("H1", "cancelled", "2025-03-01", (35.990, 48.000, 36.000, 48.005)),
        # overlaps the cancelled part, straddles west/east
        rel("H1", "reduced", "2025-05-01", (35.995, 48.000, 36.005, 48.010)),
        # reaches outside the hazard (east of 36.01) and overlaps the 2024 clearance
        rel("H1", "cleared", "2025-08-01", (36.005, 48.002, 36.020, 48.010)),
        rel("H2", "cleared", "2025-06-01", (36.05, 48.095, 36.06, 48.105)),
        rel("H3", "cancelled", "2025-02-01", (36.20, 48.00, 36.205, 48.01)),
        rel("H3", "reduced", "2024-04-01", (36.205, 48.005, 36.21, 48.01)),
    ]
    store.upsert("releases", y.releases, actor="t")

    finds = []
    for dt, state, n, when, pt in (
        ("at-persistent", "live", 3, "2025-05-02T10:00:00Z", (35.995, 48.005)),  # west
        ("apii-limit", "deactivated_intact", 6, "2025-07-02T10:00:00Z", (36.005, 48.005)),
        ("apii-limit", "self_destructed_remnant", 2, "2025-07-03T10:00:00Z", (36.055, 48.102)),
        ("uxo", "live", 1, "2024-07-03T10:00:00Z", (36.205, 48.005)),
    ):
        finds += [
            Record(
                "finds",
                uuid7(),
                {"device_type": dt, "state": state, "found_at": when},
                shapely.Point(*pt),
            )
            for _ in range(n)
        ]
    store.upsert("finds", finds, actor="t")

    a1 = Record(
        "accidents",
        uuid7(),
        {
            "occurred_at": "2025-04-10T08:00:00Z",
            "accident_type": "civilian",
            "device_category": "at",
            "description": "tractor",
        },
        shapely.Point(35.95, 48.0),
    )
    a2 = Record(
        "accidents",
        uuid7(),
        {
            "occurred_at": "2025-09-10T08:00:00Z",
            "accident_type": "demining",
            "device_category": "ap_blast",
        },
        shapely.Point(36.05, 48.0),
    )
    a3 = Record(
        "accidents",
        uuid7(),
        {"occurred_at": "2024-09-10T08:00:00Z", "accident_type": "civilian"},
        shapely.Point(36.3, 48.0),
    )
    store.upsert("accidents", [a1, a2, a3], actor="t")
    victims = []
    # 2025: 3 in a1 (2 killed), 6 in a2 (deminers, injured); all adults
    for i in range(3):
        victims.append(
            Record(
                "victims",
                uuid7(),
                {
                    "accident_id": a1.id,
                    "name": VICTIM_NAMES[i % 2],
                    "contact": VICTIM_CONTACT,
                    "sex": "male" if i else "female",
                    "age": 40 + i,
                    "outcome": "killed" if i < 2 else "injured",
                    "victim_type": "civilian",
                },
            )
        )
    for i in range(6):
        victims.append(
            Record(
                "victims",
                uuid7(),
                {
                    "accident_id": a2.id,
                    "name": f"{VICTIM_NAMES[1]} {i}",
                    "contact": VICTIM_CONTACT,
                    "sex": "male",
                    "age": 30 + i,
                    "outcome": "injured",
                    "victim_type": "deminer",
                },
            )
        )
    # 2024: one child
    victims.append(
        Record(
            "victims",
            uuid7(),
            {
                "accident_id": a3.id,
                "name": VICTIM_NAMES[0],
                "sex": "female",
                "age": 9,
                "outcome": "injured",
                "victim_type": "civilian",
            },
        )
    )
    store.upsert("victims", victims, actor="t")

    store.upsert(
        "eo_reports",
        [
            Record(
                "eo_reports",
                uuid7(),
                {
                    "reported_at": "2025-03-03T09:00:00Z",
                    "status": "new",
                    "public": True,
                    "reporter_name": REPORTER_NAME,
                    "reporter_contact": REPORTER_CONTACT,
                    "description": "something in the field",
                },
                shapely.Point(36.0, 48.0),
            )
        ],
        actor="t",
    )

    store.upsert(
        "eore_sessions",
        [
            Record(
                "eore_sessions",
                uuid7(),
                {
                    "held_on": "2025-03-01",
                    "organisation": "Org A",
                    "girls": 10,
                    "boys": 12,
                    "women": 7,
                    "men": 5,
                },
                shapely.Point(36.0, 48.05),
            ),
            Record(
                "eore_sessions",
                uuid7(),
                {
                    "held_on": "2025-10-01",
                    "organisation": "Org B",
                    "girls": 1,
                    "boys": 2,
                    "women": 3,
                    "men": 4,
                },
                shapely.Point(36.0, 48.05),
            ),
            Record(
                "eore_sessions",
                uuid7(),
                {
                    "held_on": "2024-10-01",
                    "organisation": "Org A",
                    "girls": 100,
                    "boys": 100,
                    "women": 100,
                    "men": 100,
                },
                shapely.Point(36.0, 48.05),
            ),
        ],
        actor="t",
    )
    return y


def set_schema_version(store: Any, c: Any, gpkg: int, postgis: int) -> None:
    """Mark the store (in transaction ``c``) as of an older schema: ``gpkg`` on a GeoPackage,
    ``postgis`` on PostGIS (what an older demine left; the next open migrates it)."""
    if store.P == "?":
        c.execute("UPDATE demine_settings SET value = ? WHERE key = 'schema_version'", (str(gpkg),))
    else:
        c.execute("UPDATE demine_schema SET version = %s", (postgis,))
