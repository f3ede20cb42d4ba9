"""``demine publish DIR``: the offline safety pack (docs/publish.md), over
:mod:`demine.services.publish`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from demine.cli.common import DbOpt, JsonOpt, console, handled, print_json, with_store


def publish(
    out: Annotated[
        Path,
        typer.Argument(
            metavar="DIR",
            help="A new or empty directory to write the pack into (pack.json, "
            "hazards.pmtiles, index/).",
        ),
    ],
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help='A packaged administrative region, in Ukrainian or English ("Донецька '
            'область", "Donetsk", "Kharkiv Oblast"): the pack covers its bounding box.',
        ),
    ] = None,
    bbox: Annotated[
        str | None,
        typer.Option("--bbox", help="The area the pack covers: W,S,E,N in decimal degrees."),
    ] = None,
    max_zoom: Annotated[
        int, typer.Option("--max-zoom", help="The deepest tile zoom (0..16); maps overzoom.")
    ] = 14,
    max_radius: Annotated[
        float,
        typer.Option(
            "--max-radius",
            help="The largest radius, in metres, the pack's lookup answers (it holds every open "
            "hazard within it of the area).",
        ),
    ] = 5000.0,
    block_deg: Annotated[
        float,
        typer.Option(
            "--block-deg",
            help="The lookup index's block size in degrees (0.001..1): smaller blocks for dense "
            "stores (a phone fetches one block or a few per lookup).",
        ),
    ] = 0.1,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            help="Processes cutting the tiles (1..64; default: one per core).",
        ),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish the public layers for devices and static hosting: vector tiles (PMTiles) of the
    hazards (public fields only), unverified civilian reports and reference layers, and a
    lookup index that answers "which hazards are near this place" with no server. Never
    restricted fields, reporters' contacts or photos."""
    from demine.services.publish import parse_bbox
    from demine.services.publish import publish as run

    with handled(as_json):  # the input first: a bad box is named before the store is opened
        box = parse_bbox(bbox) if bbox is not None else None
    with with_store(db, as_json) as store:
        say = None if as_json else (lambda m: console(stderr=True).print(m, markup=False))
        meta = run(
            store,
            out,
            bbox=box,
            region=region,
            max_zoom=max_zoom,
            max_radius_m=max_radius,
            block_deg=block_deg,
            progress=say,
            jobs=jobs,
        )
        if as_json:
            print_json({"dir": str(out), **meta})
            return
        layers = ", ".join(f"{k} {v}" for k, v in meta["layers"].items())
        console().print(
            f"pack {meta['id']} written to {out}: {meta['tiles']['tiles']} tiles "
            f"({meta['tiles']['bytes']:,} bytes), lookup index of {meta['lookup']['hazards']} "
            f"open hazards in {meta['lookup']['blocks']} blocks; layers: {layers}",
            markup=False,
        )
        if meta["synthetic"]:
            console().print("the pack holds SYNTHETIC demo data (said in pack.json)")


def register(app: typer.Typer) -> None:
    """Add ``publish`` to ``app`` (called by :mod:`demine.cli.app`)."""
    app.command()(publish)
