"""SYNTHETIC inputs of prioritisation for the demo store: a population raster and reference
layers, imported through the normal paths, and the configuration that uses them."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from demine.services.impact import SETTING, config_from_dict, save_config
from demine.store.base import Store

__all__ = ["demo_impact"]


_DEMO_RES = 1 / 120  # 30 arc-seconds (about 0.9 km by 0.6 km at 48° N)


def demo_impact(store: Store, directory: Path, seed: int) -> dict[str, Any]:
    """SYNTHETIC inputs for ``demine prioritize`` on the demo store: a population GeoTIFF over
    the demo hazards (``directory/population-SYNTHETIC.tif``) and reference layers
    ``settlements`` (points), ``roads`` (lines), ``schools`` (points), ``farmland`` (polygons)
    imported through the normal import path; then the configuration that uses them is saved
    in the store's settings (``prioritize.config``). Deterministic for a seed."""
    import orjson
    import rasterio
    from affine import Affine

    from demine.services.register import ImportOptions, import_file

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    hz = [h for h in store.list("hazards") if h.geometry is not None]
    if hz:
        b = shapely.bounds(np.array([h.geometry for h in hz], dtype=object))
        west, south = float(b[:, 0].min()) - 0.3, float(b[:, 1].min()) - 0.3
        east, north = float(b[:, 2].max()) + 0.3, float(b[:, 3].max()) + 0.3
    else:
        west, south, east, north = 36.5, 47.0, 39.5, 49.5
    width = int(math.ceil((east - west) / _DEMO_RES))
    height = int(math.ceil((north - south) / _DEMO_RES))
    # settlements: some near hazards, some anywhere, with a population each
    n_near = min(len(hz), 40)
    near_idx = rng.choice(len(hz), size=n_near, replace=False) if n_near else np.zeros(0, int)
    pts: list[tuple[float, float, int]] = []
    for i in sorted(int(k) for k in near_idx):
        c = hz[i].geometry.centroid
        ang = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(0.01, 0.06)
        pts.append((c.x + d * math.cos(ang), c.y + d * math.sin(ang) * 0.67, 0))
    for _ in range(60):
        pts.append((rng.uniform(west, east), rng.uniform(south, north), 0))
    pops = np.round(np.exp(rng.normal(7.0, 1.3, len(pts)))).astype(int)
    # the raster: each settlement a Gaussian blob (sigma grows with its size) on a sparse
    # rural background, in people per cell
    xs = west + (np.arange(width) + 0.5) * _DEMO_RES
    ys = north - (np.arange(height) + 0.5) * _DEMO_RES
    pop = rng.gamma(0.6, 2.0, size=(height, width)).astype(np.float64)
    for (x, y, _), p in zip(pts, pops, strict=True):
        sig = 0.004 * math.sqrt(p / 100) + _DEMO_RES
        ix = slice(
            max(0, int((x - west - 4 * sig) / _DEMO_RES)),
            min(width, int((x - west + 4 * sig) / _DEMO_RES) + 1),
        )
        iy = slice(
            max(0, int((north - y - 4 * sig) / _DEMO_RES)),
            min(height, int((north - y + 4 * sig) / _DEMO_RES) + 1),
        )
        gx = np.exp(-0.5 * ((xs[ix] - x) / sig) ** 2)
        gy = np.exp(-0.5 * ((ys[iy] - y) / (sig * 0.67)) ** 2)
        blob = np.outer(gy, gx)
        if blob.sum() > 0:
            pop[iy, ix] += p * blob / blob.sum()
    raster_path = (directory / "population-SYNTHETIC.tif").resolve()
    description = "SYNTHETIC population (people per cell) for the demine demo; not real data"
    with rasterio.open(
        raster_path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=Affine(_DEMO_RES, 0.0, west, 0.0, -_DEMO_RES, north),
        nodata=-1.0,
        compress="deflate",
    ) as ds:
        ds.write(pop.astype(np.float32), 1)
        ds.set_band_description(1, description)
        ds.update_tags(DESCRIPTION=description, SYNTHETIC="yes", SEED=str(seed))

    # the reference layers
    def feat(geom: Any, props: dict[str, Any]) -> dict[str, Any]:
        return {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)}

    settlements = [
        feat(
            shapely.Point(round(x, 6), round(y, 6)),
            {"name": f"SYNTHETIC settlement {k + 1}", "population": int(p)},
        )
        for k, ((x, y, _), p) in enumerate(zip(pts, pops, strict=True))
    ]
    big = [k for k in np.argsort(-pops, kind="stable")[:25]]
    schools = []
    for j, k in enumerate(sorted(int(v) for v in big)):
        x, y, _ = pts[k]
        schools.append(
            feat(
                shapely.Point(
                    round(x + rng.normal(0, 0.003), 6), round(y + rng.normal(0, 0.002), 6)
                ),
                {"name": f"SYNTHETIC school {j + 1}"},
            )
        )
    order = np.argsort([p[0] for p in pts], kind="stable")
    roads = []
    for j in range(len(order) - 1):
        a, c = pts[int(order[j])], pts[int(order[j + 1])]
        mid = ((a[0] + c[0]) / 2 + rng.normal(0, 0.02), (a[1] + c[1]) / 2 + rng.normal(0, 0.02))
        line = shapely.LineString(
            [
                (round(a[0], 6), round(a[1], 6)),
                (round(mid[0], 6), round(mid[1], 6)),
                (round(c[0], 6), round(c[1], 6)),
            ]
        )
        roads.append(feat(line, {"name": f"SYNTHETIC road {j + 1}"}))
    farmland = []
    for j, h in enumerate(hz[: min(len(hz), 80)]):
        if rng.random() < 0.5:
            c = h.geometry.centroid
            dx, dy = rng.uniform(-0.01, 0.01, 2)
            w, hh = rng.uniform(0.005, 0.02), rng.uniform(0.004, 0.012)
            box = shapely.box(
                round(c.x + dx - w, 6),
                round(c.y + dy - hh, 6),
                round(c.x + dx + w, 6),
                round(c.y + dy + hh, 6),
            )
            farmland.append(feat(box, {"name": f"SYNTHETIC field {j + 1}"}))
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, feats in (
            ("settlements", settlements),
            ("roads", roads),
            ("schools", schools),
            ("farmland", farmland),
        ):
            for k, ft in enumerate(feats):  # source ids: importing again updates, never doubles
                ft["id"] = f"demo-{name}-{k + 1}"
            f = Path(tmp) / f"{name}-SYNTHETIC.geojson"
            f.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
            rep = import_file(
                store,
                f,
                ImportOptions(
                    kind=f"layer:{name}", actor="demine demo", reason="SYNTHETIC demo data"
                ),
            )
            counts[name] = rep.imported
    cfg = config_from_dict(
        {"population": {"raster": str(raster_path)}}, source="demo (SYNTHETIC inputs)"
    )
    save_config(store, cfg)
    return {
        "population_raster": str(raster_path),
        "raster_size": [width, height],
        "layers": counts,
        "setting": SETTING,
        "synthetic": True,
    }
