"""The CQL2 conformance cases (tests/test_cql_conformance.py): a small fixture and, per
requirement of CQL2 1.0 (OGC 21-065r2), predicates with the rows worked out by hand.

Hazards are labelled by ``reference`` (H1..H5), emplacements by ``device_type`` (E1..E4).
Dates are 2019-12-31 .. 2022-01-01; geometries are boxes w..e x s..n (lon, lat); - is NULL.

==  ==================  ====  ======  ========  ========  ========  ====  =====================
id  name                type  status  reported  surveyed  closed    area  geometry
==  ==================  ====  ======  ========  ========  ========  ====  =====================
H1  Berlin field        SHA   open    20-01-01  20-03-01  -         100   10..11 x 50..51
H2  Be.lin wood         CHA   closed  21-06-01  21-06-01  22-01-01  200   12..13 x 50..51
H3  Zürich_50%          SHA   open    -         -         -         -     170..175 x -10..-5
H4  ZURICH back\\slash   CHA   closed  19-12-31  20-01-01  20-06-30  500   -175..-170 x -10..-5
H5  berlin              SHA   open    20-01-01  20-06-30  -         50    10.5..12.5 x 50.5..50.6
==  ==================  ====  ======  ========  ========  ========  ====  =====================

organisation: H1 "O'Neil Demining", H2 "HALO", H3 "Équipe Genève", H4 "equipe geneve", H5 -.

==  ====  ===  ===  ======================  ==============  =====  ======  =====================
id  qty   min  max  laid_at (UTC)           laid_earliest   anti   length  geometry
==  ====  ===  ===  ======================  ==============  =====  ======  =====================
E1  10    8    12   2020-05-01T10:00:00Z    2020-04-01T00Z  true   100     point 10.5 50.5
E2  4     4    4    2021-01-01T00:00:00Z    2021-01-01T00Z  false  50      line x=10.5 y=49.5..51.5
E3  1000  -    -    2019-06-15T12:00:00Z    -               -      -       10..10.2 x 50..50.2
E4  3     1    5    2020-05-01T10:00:00.5Z  -               false  -       point 11 50.5
==  ====  ===  ===  ======================  ==============  =====  ======  =====================

E4's time was given as 2020-05-01T12:00:00.5+02:00 (the store keeps UTC).
"""

from __future__ import annotations

from typing import Any

import shapely

from demine.ids import uuid7
from demine.model.schema import Record

CONF = "http://www.opengis.net/spec/cql2/1.0/conf/"

# conformance class -> its requirements (CQL2 1.0, OGC 21-065r2); the encodings' requirements
# (/req/cql2-text/..., /req/cql2-json/...) are met by running every case in both encodings
REQUIREMENTS: dict[str, list[str]] = {
    "basic-cql2": [
        "/req/basic-cql2/cql2-filter",
        "/req/basic-cql2/property",
        "/req/basic-cql2/binary-comparison-predicate",
        "/req/basic-cql2/null-predicate",
    ],
    "advanced-comparison-operators": [
        "/req/advanced-comparison-operators/like-predicate",
        "/req/advanced-comparison-operators/between-predicate",
        "/req/advanced-comparison-operators/in-predicate",
    ],
    "case-insensitive-comparison": ["/req/case-insensitive-comparison/casei-builtin-function"],
    "accent-insensitive-comparison": [
        "/req/accent-insensitive-comparison/accenti-builtin-function"
    ],
    "basic-spatial-functions": [
        "/req/basic-spatial-functions/spatial-predicate",
        "/req/basic-spatial-functions/spatial-functions",
    ],
    "basic-spatial-functions-plus": ["/req/basic-spatial-functions-plus/spatial-data-types"],
    "spatial-functions": ["/req/spatial-functions/spatial-functions"],
    "temporal-functions": ["/req/temporal-functions/temporal-functions"],
    "property-property": ["/req/property-property/withdraw-permissions"],
    "arithmetic": ["/req/arithmetic/arithmetic"],
    "cql2-text": ["/req/cql2-text/basic-cql2"],
    "cql2-json": ["/req/cql2-json/basic-cql2"],
}

ALL_H = {"H1", "H2", "H3", "H4", "H5"}


def _box(w: float, s: float, e: float, n: float) -> Any:
    return shapely.MultiPolygon([shapely.box(w, s, e, n)])


def hazards() -> list[Record]:
    rows = [
        ("H1", "Berlin field", "SHA", "open", "2020-01-01", "2020-03-01", None, 100.0,
         "O'Neil Demining", _box(10, 50, 11, 51)),
        ("H2", "Be.lin wood", "CHA", "closed", "2021-06-01", "2021-06-01", "2022-01-01", 200.0,
         "HALO", _box(12, 50, 13, 51)),
        ("H3", "Zürich_50%", "SHA", "open", None, None, None, None,
         "Équipe Genève", _box(170, -10, 175, -5)),
        ("H4", "ZURICH back\\slash", "CHA", "closed", "2019-12-31", "2020-01-01", "2020-06-30",
         500.0, "equipe geneve", _box(-175, -10, -170, -5)),
        ("H5", "berlin", "SHA", "open", "2020-01-01", "2020-06-30", None, 50.0,
         None, _box(10.5, 50.5, 12.5, 50.6)),
    ]  # fmt: skip
    out = []
    for ref, name, typ, status, rep, sur, clo, area, org, geom in rows:
        p: dict[str, Any] = {
            "reference": ref,
            "name": name,
            "hazard_type": typ,
            "status": status,
            "reported_on": rep,
            "surveyed_on": sur,
            "closed_on": clo,
            "area_m2": area,
            "organisation": org,
        }
        out.append(Record("hazards", uuid7(), {k: v for k, v in p.items() if v is not None}, geom))
    return out


def emplacements() -> list[Record]:
    rows = [
        ("E1", 10, 8, 12, "2020-05-01T10:00:00Z", "2020-04-01T00:00:00Z", True, 100.0,
         shapely.Point(10.5, 50.5)),
        ("E2", 4, 4, 4, "2021-01-01T00:00:00Z", "2021-01-01T00:00:00Z", False, 50.0,
         shapely.LineString([(10.5, 49.5), (10.5, 51.5)])),
        ("E3", 1000, None, None, "2019-06-15T12:00:00Z", None, None, None,
         shapely.box(10, 50, 10.2, 50.2)),
        ("E4", 3, 1, 5, "2020-05-01T12:00:00.5+02:00", None, False, None,
         shapely.Point(11, 50.5)),
    ]  # fmt: skip
    out = []
    for ref, qty, lo, hi, at, earliest, anti, length, geom in rows:
        p: dict[str, Any] = {
            "device_type": ref,
            "quantity": qty,
            "quantity_min": lo,
            "quantity_max": hi,
            "laid_at": at,
            "laid_earliest": earliest,
            "anti_handling": anti,
            "length_m": length,
        }
        out.append(
            Record("emplacements", uuid7(), {k: v for k, v in p.items() if v is not None}, geom)
        )
    return out


H, E = "hazards", "emplacements"

# fmt: off
# (requirement, collection, cql2-text, the labels of the rows it selects)
CASES: list[tuple[str, str, str, set[str]]] = [
    ("/req/basic-cql2/binary-comparison-predicate", H, "area_m2 = 100", {"H1"}),
    ("/req/basic-cql2/binary-comparison-predicate", H, "area_m2 <> 100", {"H2", "H4", "H5"}),
    ("/req/basic-cql2/binary-comparison-predicate", H, "area_m2 < 200", {"H1", "H5"}),
    ("/req/basic-cql2/binary-comparison-predicate", H, "area_m2 <= 200", {"H1", "H2", "H5"}),
    ("/req/basic-cql2/binary-comparison-predicate", H, "area_m2 > 200", {"H4"}),
    ("/req/basic-cql2/binary-comparison-predicate", H, "area_m2 >= 200", {"H2", "H4"}),
    ("/req/basic-cql2/binary-comparison-predicate", H, "name = 'Berlin field'", {"H1"}),
    ("/req/basic-cql2/binary-comparison-predicate", H,
     "name <> 'berlin'", {"H1", "H2", "H3", "H4"}),
    ("/req/basic-cql2/binary-comparison-predicate", H,
     "reported_on = DATE('2020-01-01')", {"H1", "H5"}),
    ("/req/basic-cql2/binary-comparison-predicate", H,
     "reported_on < date('2020-06-01')", {"H1", "H4", "H5"}),
    ("/req/basic-cql2/binary-comparison-predicate", E,
     "laid_at > TIMESTAMP('2020-05-01T10:00:00Z')", {"E2", "E4"}),
    ("/req/basic-cql2/binary-comparison-predicate", E,
     "laid_at = timestamp('2020-05-01T12:00:00+02:00')", {"E1"}),
    ("/req/basic-cql2/binary-comparison-predicate", E,
     "laid_at >= TIMESTAMP('2020-05-01T10:00:00.500Z')", {"E2", "E4"}),
    ("/req/basic-cql2/binary-comparison-predicate", E, "anti_handling = true", {"E1"}),
    ("/req/basic-cql2/binary-comparison-predicate", E, "anti_handling = FALSE", {"E2", "E4"}),
    ("/req/basic-cql2/binary-comparison-predicate", E, "anti_handling <> true", {"E2", "E4"}),
    ("/req/basic-cql2/binary-comparison-predicate", E, "quantity >= 10", {"E1", "E3"}),
    ("/req/basic-cql2/null-predicate", H, "closed_on IS NULL", {"H1", "H3", "H5"}),
    ("/req/basic-cql2/null-predicate", H, "closed_on IS NOT NULL", {"H2", "H4"}),
    ("/req/basic-cql2/null-predicate", E, "anti_handling IS NULL", {"E3"}),
    ("/req/basic-cql2/property", H, "organisation IS NULL", {"H5"}),
    ("/req/basic-cql2/property", H, "hazard_type = 'CHA'", {"H2", "H4"}),
    ("/req/basic-cql2/cql2-filter", H, "hazard_type = 'SHA' AND area_m2 > 60", {"H1"}),
    ("/req/basic-cql2/cql2-filter", H, "hazard_type = 'CHA' OR area_m2 < 60", {"H2", "H4", "H5"}),
    ("/req/basic-cql2/cql2-filter", H, "NOT (hazard_type = 'CHA' OR area_m2 < 60)", {"H1"}),
    ("/req/basic-cql2/cql2-filter", H,
     "NOT (hazard_type = 'SHA' AND area_m2 > 60)", {"H2", "H4", "H5"}),
    ("/req/basic-cql2/cql2-filter", H, "NOT area_m2 = 100", {"H2", "H4", "H5"}),
    ("/req/basic-cql2/cql2-filter", E, "NOT anti_handling = true", {"E2", "E4"}),
    ("/req/basic-cql2/cql2-filter", H, "TRUE", ALL_H),
    ("/req/basic-cql2/cql2-filter", H, "FALSE", set()),
    ("/req/basic-cql2/cql2-filter", H, "area_m2 > 60 OR TRUE", ALL_H),
    ("/req/basic-cql2/cql2-filter", H, "NOT (area_m2 > 60 AND FALSE)", ALL_H),
    ("/req/basic-cql2/cql2-filter", H,
     "area_m2 = 100 or area_m2 = 200 and hazard_type = 'SHA'", {"H1"}),
    ("/req/basic-cql2/cql2-filter", H,
     "(area_m2 = 100 or area_m2 = 200) and not status = 'open'", {"H2"}),
    ("/req/advanced-comparison-operators/like-predicate", H, "name LIKE 'Be_lin%'", {"H1", "H2"}),
    ("/req/advanced-comparison-operators/like-predicate", H, "name LIKE 'Be.lin%'", {"H2"}),
    ("/req/advanced-comparison-operators/like-predicate", H, "name LIKE 'berlin'", {"H5"}),
    ("/req/advanced-comparison-operators/like-predicate", H, "name LIKE '_erlin'", {"H5"}),
    ("/req/advanced-comparison-operators/like-predicate", H, "name LIKE '______'", {"H5"}),
    ("/req/advanced-comparison-operators/like-predicate", H, "name LIKE 'B%'", {"H1", "H2"}),
    ("/req/advanced-comparison-operators/like-predicate", H,
     "NOT name LIKE 'B%'", {"H3", "H4", "H5"}),
    ("/req/advanced-comparison-operators/like-predicate", H, "name NOT LIKE '%i%'", {"H4"}),
    ("/req/advanced-comparison-operators/like-predicate", H, r"name LIKE '%\_50\%'", {"H3"}),
    ("/req/advanced-comparison-operators/like-predicate", H, r"name LIKE '%\_5%'", {"H3"}),
    ("/req/advanced-comparison-operators/like-predicate", H, r"name LIKE '%k\\s%'", {"H4"}),
    ("/req/advanced-comparison-operators/like-predicate", H, "name LIKE '%[a]%'", set()),
    ("/req/advanced-comparison-operators/like-predicate", H,
     "organisation LIKE '%'", {"H1", "H2", "H3", "H4"}),
    ("/req/advanced-comparison-operators/between-predicate", H,
     "area_m2 BETWEEN 100 AND 200", {"H1", "H2"}),
    ("/req/advanced-comparison-operators/between-predicate", H,
     "area_m2 NOT BETWEEN 100 AND 200", {"H4", "H5"}),
    ("/req/advanced-comparison-operators/between-predicate", E,
     "quantity BETWEEN 3 AND 10", {"E1", "E2", "E4"}),
    ("/req/advanced-comparison-operators/in-predicate", H, "hazard_type IN ('CHA')", {"H2", "H4"}),
    ("/req/advanced-comparison-operators/in-predicate", H,
     "name IN ('berlin', 'Berlin field', 'nope')", {"H1", "H5"}),
    ("/req/advanced-comparison-operators/in-predicate", H,
     "area_m2 NOT IN (100, 200)", {"H4", "H5"}),
    ("/req/advanced-comparison-operators/in-predicate", E, "quantity IN (1000, 3)", {"E3", "E4"}),
    ("/req/case-insensitive-comparison/casei-builtin-function", H,
     "CASEI(name) = casei('BERLIN')", {"H5"}),
    ("/req/case-insensitive-comparison/casei-builtin-function", H,
     "CASEI(name) LIKE CASEI('berlin%')", {"H1", "H5"}),
    ("/req/case-insensitive-comparison/casei-builtin-function", H,
     "CASEI(name) LIKE casei('zürich%')", {"H3"}),
    ("/req/case-insensitive-comparison/casei-builtin-function", H,
     "CASEI(name) IN (CASEI('berlin FIELD'), CASEI('HALO'))", {"H1"}),
    ("/req/accent-insensitive-comparison/accenti-builtin-function", H,
     "ACCENTI(organisation) = ACCENTI('Equipe Geneve')", {"H3"}),
    ("/req/accent-insensitive-comparison/accenti-builtin-function", H,
     "ACCENTI(CASEI(organisation)) = ACCENTI(CASEI('ÉQUIPE GENÈVE'))", {"H3", "H4"}),
    ("/req/accent-insensitive-comparison/accenti-builtin-function", H,
     "ACCENTI(name) LIKE ACCENTI('Zurich%')", {"H3"}),
    ("/req/accent-insensitive-comparison/accenti-builtin-function", H,
     "organisation = 'Equipe Genève'", set()),
    ("/req/basic-spatial-functions/spatial-functions", H,
     "S_INTERSECTS(geometry, POINT(10.5 50.5))", {"H1", "H5"}),
    ("/req/basic-spatial-functions/spatial-functions", H,
     "S_INTERSECTS(geometry, BBOX(9, 49, 11.5, 52))", {"H1", "H5"}),
    ("/req/basic-spatial-functions/spatial-functions", H,
     "S_INTERSECTS(geometry, BBOX(150, -90, -150, 90))", {"H3", "H4"}),
    ("/req/basic-spatial-functions/spatial-functions", H,
     "S_INTERSECTS(geometry, BBOX(174, -8, -174, -6))", {"H3", "H4"}),
    ("/req/basic-spatial-functions/spatial-functions", H,
     "S_INTERSECTS(geometry, BBOX(176, -8, -176, -6))", set()),
    ("/req/basic-spatial-functions/spatial-predicate", H,
     "NOT S_INTERSECTS(geometry, BBOX(9, 49, 11.5, 52))", {"H2", "H3", "H4"}),
    ("/req/basic-spatial-functions/spatial-predicate", H,
     "S_INTERSECTS(geometry, BBOX(9, 49, 11.5, 52)) AND area_m2 > 60", {"H1"}),
    ("/req/basic-spatial-functions/spatial-predicate", E,
     "S_INTERSECTS(geometry, BBOX(10.4, 50.4, 10.6, 50.6))", {"E1", "E2"}),
    ("/req/basic-spatial-functions-plus/spatial-data-types", H,
     "S_INTERSECTS(geometry, LINESTRING(9 50.55, 14 50.55))", {"H1", "H2", "H5"}),
    ("/req/basic-spatial-functions-plus/spatial-data-types", H,
     "S_INTERSECTS(geometry, POLYGON((172 -8, 173 -8, 173 -7, 172 -7, 172 -8)))", {"H3"}),
    ("/req/basic-spatial-functions-plus/spatial-data-types", H,
     "S_INTERSECTS(geometry, MULTIPOINT((10.2 50.2), (-172 -7)))", {"H1", "H4"}),
    ("/req/basic-spatial-functions-plus/spatial-data-types", H,
     "S_INTERSECTS(geometry, MULTILINESTRING((12.5 49, 12.5 52), (-171 -20, -171 0)))",
     {"H2", "H4", "H5"}),
    ("/req/basic-spatial-functions-plus/spatial-data-types", H,
     "S_INTERSECTS(geometry, MULTIPOLYGON(((172 -8, 173 -8, 173 -7, 172 -8)), "
     "((12.1 50.1, 12.2 50.1, 12.2 50.2, 12.1 50.1))))",
     {"H2", "H3"}),
    ("/req/basic-spatial-functions-plus/spatial-data-types", H,
     "S_INTERSECTS(geometry, GEOMETRYCOLLECTION(POINT(10.2 50.2), LINESTRING(-172 -20, -172 0)))",
     {"H1", "H4"}),
    ("/req/spatial-functions/spatial-functions", H,
     "S_CONTAINS(geometry, POINT(10.2 50.2))", {"H1"}),
    ("/req/spatial-functions/spatial-functions", H,
     "S_WITHIN(geometry, BBOX(9, 49, 14, 52))", {"H1", "H2", "H5"}),
    ("/req/spatial-functions/spatial-functions", H,
     "S_DISJOINT(geometry, BBOX(9, 49, 14, 52))", {"H3", "H4"}),
    ("/req/spatial-functions/spatial-functions", H,
     "S_EQUALS(geometry, POLYGON((12 50, 13 50, 13 51, 12 51, 12 50)))", {"H2"}),
    ("/req/spatial-functions/spatial-functions", H,
     "S_OVERLAPS(geometry, POLYGON((10.8 50.8, 11.2 50.8, 11.2 51.2, 10.8 51.2, 10.8 50.8)))",
     {"H1"}),
    ("/req/spatial-functions/spatial-functions", H, "S_TOUCHES(geometry, POINT(13 50.5))", {"H2"}),
    ("/req/spatial-functions/spatial-functions", H,
     "S_CROSSES(geometry, LINESTRING(9 50.55, 10.7 50.55))", {"H1", "H5"}),
    ("/req/spatial-functions/spatial-functions", E,
     "S_CROSSES(geometry, LINESTRING(10 50.9, 11 50.9))", {"E2"}),
    ("/req/spatial-functions/spatial-functions", E,
     "S_TOUCHES(geometry, POLYGON((11 50, 12 50, 12 51, 11 51, 11 50)))", {"E4"}),
    ("/req/spatial-functions/spatial-functions", E,
     "S_WITHIN(geometry, BBOX(10, 50, 11, 51))", {"E1", "E3"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_AFTER(reported_on, DATE('2020-01-01'))", {"H2"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_BEFORE(reported_on, date('2020-01-01'))", {"H4"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_EQUALS(reported_on, DATE('2020-01-01'))", {"H1", "H5"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_DISJOINT(reported_on, DATE('2020-01-01'))", {"H2", "H4"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_INTERSECTS(reported_on, INTERVAL('2019-12-31', '2020-01-01'))", {"H1", "H4", "H5"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_DURING(reported_on, interval('2019-01-01', '2020-06-01'))", {"H1", "H4", "H5"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_AFTER(reported_on, INTERVAL('..', '2020-01-01'))", {"H2"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_STARTS(INTERVAL(reported_on, closed_on), INTERVAL('2019-12-31', '2021-01-01'))", {"H4"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_FINISHES(interval(reported_on, closed_on), interval('2020-01-01', '2022-01-01'))", {"H2"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_STARTEDBY(INTERVAL(reported_on, closed_on), INTERVAL('2019-12-31', '2020-01-31'))", {"H4"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_FINISHEDBY(INTERVAL(reported_on, closed_on), INTERVAL('2021-07-01', '2022-01-01'))",
     {"H2"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_MEETS(INTERVAL(reported_on, surveyed_on), INTERVAL('2020-03-01', '2020-04-01'))", {"H1"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_METBY(INTERVAL(surveyed_on, closed_on), INTERVAL('2019-01-01', '2020-01-01'))", {"H4"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_OVERLAPS(INTERVAL(reported_on, closed_on), INTERVAL('2020-03-01', '2020-12-31'))", {"H4"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_OVERLAPPEDBY(INTERVAL(reported_on, closed_on), INTERVAL('2021-01-01', '2021-12-31'))",
     {"H2"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_CONTAINS(INTERVAL(reported_on, closed_on), DATE('2020-03-15'))", {"H4"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_EQUALS(INTERVAL(reported_on, surveyed_on), INTERVAL('2021-06-01', '2021-06-01'))", {"H2"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_DISJOINT(INTERVAL(reported_on, closed_on), INTERVAL('2020-01-01', '2021-01-01'))", {"H2"}),
    ("/req/temporal-functions/temporal-functions", H,
     "T_INTERSECTS(INTERVAL(reported_on, '..'), DATE('2019-12-31'))", {"H4"}),
    ("/req/temporal-functions/temporal-functions", H,
     "NOT T_INTERSECTS(INTERVAL(reported_on, closed_on), INTERVAL('2020-01-01', '2021-01-01'))",
     {"H2"}),
    ("/req/temporal-functions/temporal-functions", E,
     "T_AFTER(laid_at, TIMESTAMP('2020-05-01T09:59:59Z'))", {"E1", "E2", "E4"}),
    ("/req/temporal-functions/temporal-functions", E,
     "T_DURING(laid_at, INTERVAL('2020-05-01T10:00:00Z', '2020-05-01T10:00:01Z'))", {"E4"}),
    ("/req/temporal-functions/temporal-functions", E,
     "T_CONTAINS(INTERVAL(laid_earliest, laid_at), TIMESTAMP('2020-04-15T00:00:00Z'))", {"E1"}),
    ("/req/property-property/withdraw-permissions", H,
     "surveyed_on > reported_on", {"H1", "H4", "H5"}),
    ("/req/property-property/withdraw-permissions", H, "100 = area_m2", {"H1"}),
    ("/req/property-property/withdraw-permissions", H, "1 = 1", ALL_H),
    ("/req/property-property/withdraw-permissions", H, "'a' = 'b'", set()),
    ("/req/property-property/withdraw-permissions", E, "quantity_min < quantity_max", {"E1", "E4"}),
    ("/req/property-property/withdraw-permissions", E,
     "quantity BETWEEN quantity_min AND 10", {"E1", "E2", "E4"}),
    ("/req/property-property/withdraw-permissions", E, "T_AFTER(laid_at, laid_earliest)", {"E1"}),
    ("/req/arithmetic/arithmetic", H, "area_m2 * 2 > 300", {"H2", "H4"}),
    ("/req/arithmetic/arithmetic", H, "area_m2 + 50 = 150", {"H1"}),
    ("/req/arithmetic/arithmetic", H, "area_m2 - 100 < 0", {"H5"}),
    ("/req/arithmetic/arithmetic", H, "area_m2 / 3 > 60", {"H2", "H4"}),
    ("/req/arithmetic/arithmetic", H, "area_m2 % 3 = 2", {"H2", "H4", "H5"}),
    ("/req/arithmetic/arithmetic", H, "area_m2 div 3 = 66", {"H2"}),
    ("/req/arithmetic/arithmetic", H, "area_m2 ^ 2 = 10000", {"H1"}),
    ("/req/arithmetic/arithmetic", H, "(area_m2 + 50) * 2 = 300", {"H1"}),
    ("/req/arithmetic/arithmetic", H, "NOT area_m2 * 2 > 300", {"H1", "H5"}),
    ("/req/arithmetic/arithmetic", E, "2 + quantity * 2 = 22", {"E1"}),
    ("/req/arithmetic/arithmetic", E, "quantity_max - quantity_min = 4", {"E1", "E4"}),
    ("/req/arithmetic/arithmetic", E, "quantity / 4 = 2.5", {"E1"}),
    ("/req/cql2-text/basic-cql2", H, "organisation = 'O''Neil Demining'", {"H1"}),
    ("/req/cql2-text/basic-cql2", H, r"name = 'ZURICH back\slash'", {"H4"}),
    ("/req/cql2-text/basic-cql2", H, "area_m2=100 oR area_m2=500", {"H1", "H4"}),
]

# requests that must be refused (400) with a message naming what is wrong
BAD: list[tuple[str, str, str, str]] = [
    ("/req/basic-cql2/property", H, "nope = 1", 'nope'),
    ("/req/basic-spatial-functions/spatial-functions", H,
     "S_INTERSECTS(geometry, POINT(200 50))", '200'),
    ("/req/basic-spatial-functions/spatial-functions", H,
     "S_INTERSECTS(geometry, BBOX(10, 50, 190, 51))", '190'),
    ("/req/basic-spatial-functions-plus/spatial-data-types", H,
     "S_INTERSECTS(geometry, LINESTRING(10 50, 10 95))", '95'),
    ("/req/basic-spatial-functions-plus/spatial-data-types", H,
     "S_INTERSECTS(geometry, POLYGON((10 50, 11 51, 11 50, 10 51, 10 50)))", 'Self-intersection'),
    ("/req/temporal-functions/temporal-functions", H,
     "T_AFTER(reported_on, DATE('2020-02-30'))", '2020-02-30'),
]

# CQL2-JSON written by hand (not converted from the text)
JSON_CASES: list[tuple[str, str, Any, set[str]]] = [
    ("/req/cql2-json/basic-cql2", H, {"op": "=", "args": [{"property": "area_m2"}, 100]}, {"H1"}),
    ("/req/cql2-json/basic-cql2", E,
     {"op": "not", "args": [{"op": "=", "args": [{"property": "anti_handling"}, True]}]},
     {"E2", "E4"}),
    ("/req/cql2-json/basic-cql2", H,
     {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [150, -90, -150, 90]}]},
     {"H3", "H4"}),
    ("/req/cql2-json/basic-cql2", H,
     {"op": "t_after", "args": [{"property": "reported_on"}, {"date": "2020-01-01"}]}, {"H2"}),
    ("/req/cql2-json/basic-cql2", H,
     {"op": "like", "args": [{"op": "casei", "args": [{"property": "name"}]},
                             {"op": "casei", "args": ["BERLIN%"]}]},
     {"H1", "H5"}),
    ("/req/cql2-json/basic-cql2", H,
     {"op": "s_intersects", "args": [{"property": "geometry"},
                                     {"type": "Point", "coordinates": [-172, -7]}]},
     {"H4"}),
    ("/req/cql2-json/basic-cql2", E,
     {"op": "t_equals", "args": [{"property": "laid_at"},
                                 {"timestamp": "2020-05-01T12:00:00+02:00"}]},
     {"E1"}),
]
# fmt: on
