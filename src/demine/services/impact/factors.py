"""The factors of the priority score, each one value in 0..1 per open hazard (people around
it, how near settlements, schools and roads are, farmland it takes, accidents and EO reports
near it, the residual-risk estimate, the area still to release), with the raw input, its unit,
the transform, and what was missing (the factor then takes its fallback value)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from demine.errors import Fault, ValidationError
from demine.model.schema import Record
from demine.services.impact.config import ImpactConfig
from demine.store.base import Store

# --- inputs ---------------------------------------------------------------------------------


def geometries(records: Iterable[Record]) -> np.ndarray:
    arr = np.empty(0, dtype=object)
    recs = list(records)
    if recs:
        arr = np.empty(len(recs), dtype=object)
        arr[:] = [r.geometry for r in recs]
    return arr


def hazard_geometries(store: Store, hazards: list[Record]) -> tuple[np.ndarray, str]:
    """The part of each hazard not yet released (the whole polygon if land release is not
    available)."""
    try:
        from demine.services.release import remaining_geometries
    except ImportError:  # pragma: no cover - land release is part of demine
        return geometries(hazards), "hazard polygon"
    rem = remaining_geometries(store)
    out = geometries(hazards)
    for i, h in enumerate(hazards):
        g = rem.get(h.id)
        if g is not None:
            out[i] = g
    return out, REMAINING


REMAINING = "remaining (hazard minus released land)"


@dataclass
class OpenHazards:
    """The open hazards in id order: their ids, names, references and the part of each not
    yet released (:func:`hazard_geometries`)."""

    ids: list[str]
    names: list[str | None]
    references: list[str | None]
    geoms: np.ndarray
    geometry: str


def open_hazards(store: Store) -> OpenHazards:
    """The open hazards, read light when the store can (names and references without
    geometries, the remaining polygons from the derived tables without their release pieces),
    else from the records and the land-release accounts: the same either way."""
    rem = store.remaining_polygons() if hasattr(store, "remaining_polygons") else None
    if rem is None or not hasattr(store, "text_fields"):
        hazards = sorted(store.list("hazards", where={"status": "open"}), key=lambda h: h.id)
        geoms, label = hazard_geometries(store, hazards)
        return OpenHazards(
            [h.id for h in hazards],
            [h.properties.get("name") for h in hazards],
            [h.properties.get("reference") for h in hazards],
            geoms,
            label,
        )
    rows = sorted(
        store.text_fields("hazards", ["name", "reference"], where={"status": "open"}),
        key=lambda r: r[0],
    )
    ids = [str(r[0]) for r in rows]
    geoms = np.empty(len(ids), dtype=object)
    geoms[:] = [rem.get(i) for i in ids]
    lacking = [i for i, g in zip(ids, geoms, strict=True) if g is None]
    if lacking:  # no derived row: a hazard without a geometry; its own (None) then
        own = {h.id: h.geometry for h in store.get_many("hazards", lacking)}
        at = {i: k for k, i in enumerate(ids)}
        for i in lacking:
            geoms[at[i]] = own.get(i)
    return OpenHazards(ids, [r[1] for r in rows], [r[2] for r in rows], geoms, REMAINING)


def record_geometries(store: Store, kind: str) -> np.ndarray:
    """The geometries of the records of ``kind`` that have one, in fid order (without their
    properties when the store can)."""
    if hasattr(store, "geometries_only"):
        g = np.asarray(store.geometries_only(kind), dtype=object)
        return g[~shapely.is_missing(g)] if len(g) else g
    return geometries(r for r in store.list(kind) if r.geometry is not None)


def layer_names(store: Store) -> set[str]:
    return {k.name for k in store.kinds() if k.is_layer}


# --- the factors ----------------------------------------------------------------------------


def saturating(x: float, half: float) -> float:
    """x / (x + half): 0 at 0, 0.5 at ``half``, towards 1 for large x."""
    return 0.0 if x <= 0 else x / (x + half)


def saturating_all(x: np.ndarray, half: float) -> list[float]:
    """:func:`saturating` of each value (the same doubles), vectorised."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x <= 0, 0.0, x / (x + half))
    return [float(v) for v in out.tolist()]


def proximity(d: float, reach: float) -> float:
    """1 at distance 0, falling linearly to 0 at ``reach``."""
    return 0.0 if not math.isfinite(d) else max(0.0, 1.0 - d / reach)


@dataclass
class Factor:
    name: str
    raw: list[float | None]
    unit: str
    transform: str
    value: list[float]
    missing: list[str | None]
    notes: list[str | None] = field(default_factory=list)


def fallback_factor(
    name: str, n: int, unit: str, transform: str, fallback: float, reason: str
) -> Factor:
    return Factor(name, [None] * n, unit, transform, [fallback] * n, [reason] * n, [None] * n)


def population(cfg: ImpactConfig, geoms: np.ndarray) -> Factor:
    from demine.geo.zonal import Raster, buffer_m, zonal_sums

    n = len(geoms)
    buf = float(cfg.get("population", "buffer_m"))
    half = float(cfg.get("population", "half_at"))
    fb = float(cfg.get("population", "fallback"))
    unit = f"people within {buf:g} m"
    tr = f"people / (people + {half:g})"
    path = cfg.get("population", "raster")
    if not path:
        return fallback_factor(
            "population",
            n,
            unit,
            tr,
            fb,
            f"population raster not configured (population.raster): fallback value {fb:g}",
        )
    if not Path(path).exists():
        raise ValidationError(
            f"{cfg.source}: the population raster {path} does not exist",
            [Fault(f"no file {path}", field="population.raster", source=cfg.source)],
        )
    raster = Raster.open(path)
    zr = zonal_sums(buffer_m(geoms, buf), raster)
    f = Factor("population", [], unit, tr, [], [], [])
    for s, cov in zip(zr.sums, zr.coverage, strict=True):
        if cov <= 0:
            f.raw.append(None)
            f.value.append(fb)
            f.missing.append(f"outside the population raster: fallback value {fb:g}")
            f.notes.append(None)
            continue
        people = float(s) / float(cov) if cov < 0.999 else float(s)
        f.raw.append(people)
        f.value.append(saturating(people, half))
        f.missing.append(None)
        f.notes.append(
            None
            if cov >= 0.999
            else f"the raster covers {100 * cov:.0f}% of the buffer; the sum is scaled to the "
            "whole buffer"
        )
    return f


def _layer_geometries(store: Store, name: str) -> np.ndarray:
    return record_geometries(store, name)


def distance_factor(
    store: Store, cfg: ImpactConfig, factor: str, geoms: np.ndarray, layers: set[str]
) -> Factor:
    from demine.geo.zonal import nearest_within

    n = len(geoms)
    reach = float(cfg.get(factor, "reach_m"))
    fb = float(cfg.get(factor, "fallback"))
    layer = cfg.get(factor, "layer")
    unit = f"metres to the nearest of layer {layer!r}" if layer else "metres"
    tr = f"1 - distance / {reach:g} (0 beyond {reach:g} m)"
    if not layer:
        return fallback_factor(
            factor,
            n,
            unit,
            tr,
            fb,
            f"no {factor} layer configured ({factor}.layer): fallback value {fb:g}",
        )
    if layer not in layers:
        return fallback_factor(
            factor,
            n,
            unit,
            tr,
            fb,
            f"layer {layer!r} ({factor}) is not in the store: fallback value {fb:g}",
        )
    dist, _ = nearest_within(geoms, _layer_geometries(store, layer), reach)
    raw: list[float | None] = [float(d) if math.isfinite(d) else None for d in dist]
    return Factor(
        factor,
        raw,
        unit,
        tr,
        [proximity(float(d), reach) for d in dist],
        [None] * n,
        [None if math.isfinite(d) else f"none within {reach:g} m" for d in dist],
    )


def farmland(store: Store, cfg: ImpactConfig, geoms: np.ndarray, layers: set[str]) -> Factor:
    from demine.geo.zonal import overlap_area

    n = len(geoms)
    half = float(cfg.get("farmland", "half_at_ha"))
    fb = float(cfg.get("farmland", "fallback"))
    layer = cfg.get("farmland", "layer")
    unit = "hectares of farmland inside the hazard"
    tr = f"ha / (ha + {half:g})"
    if not layer:
        return fallback_factor(
            "farmland",
            n,
            unit,
            tr,
            fb,
            f"no farmland layer configured (farmland.layer): fallback value {fb:g}",
        )
    if layer not in layers:
        return fallback_factor(
            "farmland",
            n,
            unit,
            tr,
            fb,
            f"layer {layer!r} (farmland) is not in the store: fallback value {fb:g}",
        )
    ha = overlap_area(geoms, _layer_geometries(store, layer)) / 10_000
    return Factor(
        "farmland",
        [float(x) for x in ha],
        unit,
        tr,
        [saturating(float(x), half) for x in ha],
        [None] * n,
        [None] * n,
    )


INCIDENTS = ("accidents", "eo_reports")


def incident_counts(
    store: Store, cfg: ImpactConfig, geoms: np.ndarray, kinds: tuple[str, ...] = INCIDENTS
) -> dict[str, np.ndarray]:
    """Per kind of incident: how many lie within its ``radius_m`` of each hazard (each
    record's centroid), the hazards indexed once for all kinds."""
    from demine.geo.proximity import count_within_many

    sets = []
    for kind in kinds:
        pts = record_geometries(store, kind)
        xy = shapely.get_coordinates(shapely.centroid(pts)) if len(pts) else np.zeros((0, 2))
        sets.append((xy[:, 0], xy[:, 1], float(cfg.get(kind, "radius_m"))))
    return dict(zip(kinds, count_within_many(geoms, sets), strict=True))


def incidents(
    store: Store,
    cfg: ImpactConfig,
    factor: str,
    geoms: np.ndarray,
    counts: np.ndarray | None = None,
) -> Factor:
    """Accidents or EO reports near each hazard (``counts``: already counted, see
    :func:`incident_counts`)."""
    radius = float(cfg.get(factor, "radius_m"))
    half = float(cfg.get(factor, "half_at"))
    label = "accidents" if factor == "accidents" else "EO reports"
    if counts is None:
        counts = incident_counts(store, cfg, geoms, (factor,))[factor]
    return Factor(
        factor,
        [float(c) for c in np.asarray(counts).tolist()],
        f"{label} within {radius:g} m",
        f"n / (n + {half:g})",
        saturating_all(counts, half),
        [None] * len(geoms),
        [None] * len(geoms),
    )


def _with_emplacements(store: Store, hazard_ids: list[str]) -> bool:
    """Whether any of these hazards has an emplacement record (True when the store cannot say
    cheaply)."""
    if not hasattr(store, "text_fields"):
        return True
    named = {r[1] for r in store.text_fields("emplacements", ["hazard_id"])}
    return any(h in named for h in hazard_ids)


def risk(store: Store, cfg: ImpactConfig, hazard_ids: list[str], day: float) -> Factor:
    from demine.services.risk import HazardRisk, hazard_risks

    fb = float(cfg.get("risk", "fallback"))
    risks: dict[str, HazardRisk] = {}
    if _with_emplacements(store, hazard_ids):  # else none has a record: no estimate at all
        risks = {r.hazard.id: r for r in hazard_risks(store, np.array([day]), draws=1000, seed=0)}
    if not risks:  # no estimate for any: every hazard takes the fallback
        n = len(hazard_ids)
        reason = f"no emplacement record: residual risk unknown (not safe): fallback value {fb:g}"
        return Factor(
            "risk",
            [None] * n,
            "P(at least one device live)",
            "identity",
            [fb] * n,
            [reason] * n,
            [None] * n,
        )
    f = Factor("risk", [], "P(at least one device live)", "identity", [], [], [])
    for hid in hazard_ids:
        r = risks.get(hid)
        if r is None or r.estimate is None:
            f.raw.append(None)
            f.value.append(fb)
            f.missing.append(
                "no emplacement record could be counted (unknown device type): residual risk "
                f"unknown (not safe): fallback value {fb:g}"
                if r is not None and r.records
                else "no emplacement record: residual risk unknown (not safe): fallback value "
                f"{fb:g}"
            )
            f.notes.append(None)
            continue
        p = float(r.estimate.p_any_live[0])
        f.raw.append(p)
        if r.incomplete:
            # a record the estimate could not count (unknown device type, quantity 0) never
            # ranks the hazard below one with no record at all
            f.value.append(max(fb, min(1.0, max(0.0, p))))
            f.missing.append(
                "an emplacement record could not be counted (unknown device type or quantity "
                f"0): the estimate is a lower bound: fallback value {fb:g} unless higher"
            )
        else:
            f.value.append(min(1.0, max(0.0, p)))
            f.missing.append(None)
        f.notes.append(None)
    return f


def area(cfg: ImpactConfig, geoms: np.ndarray, source: str) -> Factor:
    from demine.geo.geodesy import geodesic_area

    half = float(cfg.get("area", "half_at_ha"))
    ha = geodesic_area(geoms) / 10_000
    return Factor(
        "area",
        [float(x) for x in ha.tolist()],
        f"hectares ({source})",
        f"ha / (ha + {half:g})",
        saturating_all(ha, half),
        [None] * len(geoms),
        [None] * len(geoms),
    )
