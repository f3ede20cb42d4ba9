"""``demine import`` and ``demine validate``: files in, through
:mod:`demine.services.imports`, with the mapping options of
:mod:`demine.services.import_mapping` (registered by :mod:`demine.cli.records`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from demine.cli.common import (
    DbOpt,
    JsonOpt,
    console,
    current_role,
    handled,
    print_json,
    with_store,
)
from demine.errors import Fault, ValidationError
from demine.services.import_faults import rejected_text

if TYPE_CHECKING:
    from demine.services.register import ImportOptions, ImportReport


def _parse_mapping(
    items: list[str] | None, option: str = "--map", expected: str = "SOURCE_FIELD=DEMINE_FIELD"
) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        a, eq, b = item.partition("=")
        if not eq or not a.strip() or not b.strip():
            raise ValidationError(
                f"bad {option}", [Fault(f"{item!r}: expected {expected}", field=option)]
            )
        out[a.strip()] = b.strip()
    return out


def _parse_values(items: list[str] | None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for item in items or []:
        name, colon, rest = item.partition(":")
        source, eq, target = rest.partition("=")
        if not colon or not eq or not name.strip() or not target.strip():
            raise ValidationError(
                "bad --value",
                [Fault(f"{item!r}: expected FIELD:SOURCE=TARGET", field="--value")],
            )
        out.setdefault(name.strip(), {})[source] = target.strip()
    return out


class _Mapping:
    """The mapping options of ``import`` and ``validate``, parsed."""

    def __init__(
        self,
        file: Path | None,
        rename: list[str] | None,
        set_: list[str] | None,
        values: list[str] | None,
        dates: list[str] | None,
    ) -> None:
        self.file = file
        self.rename = _parse_mapping(rename)
        self.set = _parse_mapping(set_, "--set", "FIELD=VALUE")
        self.values = _parse_values(values)
        self.dates = _parse_mapping(dates, "--date-format", "FIELD=FORMAT")


KindOpt = Annotated[
    str,
    typer.Option(
        "--kind",
        "-k",
        help="A kind (hazards, emplacements, finds, eo_reports, activities, releases, accidents, "
        "victims, eore_sessions, ...) or layer:NAME",
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map", help="SOURCE_FIELD=DEMINE_FIELD (repeatable): rename source fields on import."
    ),
]
MappingFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--mapping",
        help="A TOML mapping file (tables rename, set, values.FIELD, dates); the "
        "options below add to it and override it.",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="FIELD=VALUE (repeatable): a constant for every feature whose FIELD is missing or "
        "null (a value in the file wins).",
    ),
]
ValueOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--value",
        help="FIELD:SOURCE=TARGET (repeatable): translate a value of FIELD (after --map); "
        "other values pass through.",
    ),
]
DateOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--date-format",
        help="FIELD=FORMAT (repeatable): read FIELD with this strptime format (e.g. %d.%m.%Y) "
        "and store an ISO date.",
    ),
]
LayerOpt = Annotated[str | None, typer.Option("--layer", help="Source layer (GeoPackage).")]
WktOpt = Annotated[str | None, typer.Option("--wkt-column", help="CSV: the WKT column.")]
LonOpt = Annotated[str | None, typer.Option("--lon-column", help="CSV: the longitude column.")]
LatOpt = Annotated[str | None, typer.Option("--lat-column", help="CSV: the latitude column.")]
JumpOpt = Annotated[
    float | None,
    typer.Option(
        "--max-vertex-jump",
        help="Fault consecutive vertices further apart than this many metres (GICHD "
        "geocheck; default 5000 for records, off for layers; 0 turns it off).",
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="GeoJSON: refuse members RFC 7946 §7.1 forbids where they are (a FeatureCollection's "
        '"properties", a Feature\'s "coordinates"...); without it they are warnings and ignored.',
    ),
]
TolOpt = Annotated[
    float,
    typer.Option(
        "--duplicate-tolerance",
        metavar="METRES",
        min=0,
        max=1000,
        help="Points of one kind within this many metres, with the same date and type, are "
        "near duplicates (polygons: under 1 % symmetric difference); 0: exact duplicates only; "
        "at most 1000.",
    ),
]


def _options(
    kind: str,
    skip_invalid: bool,
    repair: bool,
    mapping: _Mapping,
    layer: str | None,
    wkt: str | None,
    lon: str | None,
    lat: str | None,
    reason: str | None = None,
    max_jump: float | None = None,
    strict: bool = False,
    skip_duplicates: bool = False,
    duplicate_tolerance: float = 1.0,
) -> ImportOptions:
    from demine.services.register import ImportOptions

    return ImportOptions(
        kind=kind,
        skip_invalid=skip_invalid,
        repair=repair,
        mapping=mapping.rename,
        mapping_file=mapping.file,
        set_values=dict(mapping.set),
        value_map={k: dict(v) for k, v in mapping.values.items()},
        date_formats=mapping.dates,
        layer=layer,
        wkt_column=wkt,
        lon_column=lon,
        lat_column=lat,
        reason=reason,
        max_jump_m=max_jump,
        strict=strict,
        skip_duplicates=skip_duplicates,
        duplicate_tolerance_m=duplicate_tolerance,
    )


def _duplicates_line(report: ImportReport) -> str | None:
    if not report.duplicates:
        return None
    skipped = report.skipped_duplicates
    line = (
        f"{Path(report.source).name}: {report.duplicates} duplicate features (see the warnings); "
        + (f"{skipped} skipped" if skipped else "stored: --skip-duplicates skips them")
    )
    if report.duplicates_of_stored:  # most likely the same data imported again without ids
        line += (
            f"\nNOTE: {report.duplicates_of_stored} features duplicate records already stored "
            "(was this file imported before? it has no ids to match them by)"
        )
    return line


def _print_report(report: ImportReport, verb: str) -> None:
    con = console()
    for f in report.repairs:
        con.print(f"  repaired: {f}", markup=False)
    for f in report.warnings[:50]:
        con.print(f"  warning: {f}", markup=False)
    if len(report.warnings) > 50:
        con.print(f"  ... and {len(report.warnings) - 50} more warnings")
    for r in report.rejected:
        con.print(f"  rejected: {rejected_text(r)}", markup=False)
    con.print(
        f"{Path(report.source).name}: {verb} {report.imported} of {report.total} features "
        f"({report.created} new, {report.updated} updated, {report.unchanged} unchanged), "
        f"{len(report.rejected)} rejected"
    )
    if (line := _duplicates_line(report)) is not None:
        con.print(line, markup=False)


def import_(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE...",
            help="GeoJSON, GeoPackage or CSV files (several: all are checked before any is "
            "stored).",
        ),
    ],
    kind: KindOpt,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help=(
                "Store the good features and list the rest (default: one bad feature rejects the "
                "whole import)."
            ),
        ),
    ] = False,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help=(
                "Repair what can be repaired (unclosed rings, swapped lat/lon, self-intersections, "
                "duplicate vertices) and list each repair."
            ),
        ),
    ] = False,
    mapping_file: MappingFileOpt = None,
    mapping: MapOpt = None,
    set_: SetOpt = None,
    value: ValueOpt = None,
    date_format: DateOpt = None,
    layer: LayerOpt = None,
    wkt_column: WktOpt = None,
    lon_column: LonOpt = None,
    lat_column: LatOpt = None,
    max_vertex_jump: JumpOpt = None,
    strict: StrictOpt = False,
    skip_duplicates: Annotated[
        bool,
        typer.Option(
            "--skip-duplicates",
            help="Skip exact and near duplicates (of another feature: the first is kept; of a "
            "stored record: not stored again). Default: stored, each listed as a warning.",
        ),
    ] = False,
    duplicate_tolerance: TolOpt = 1.0,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in history).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import records from files. Re-importing the same source ids updates them. On a
    terminal a progress bar (on stderr) shows the check, then the storing and the update of
    the land-release accounts."""
    from demine.cli.progress import progress_bar
    from demine.services.register import import_files

    with with_store(db, as_json) as store:
        opts = _options(
            kind,
            skip_invalid,
            repair,
            _Mapping(mapping_file, mapping, set_, value, date_format),
            layer,
            wkt_column,
            lon_column,
            lat_column,
            reason,
            max_vertex_jump,
            strict,
            skip_duplicates,
            duplicate_tolerance,
        )
        checking = f"checking {', '.join(f.name for f in files)}"
        with progress_bar(checking, as_json) as bar:
            try:
                reports = import_files(
                    store,
                    files,
                    opts,
                    progress=None if bar is None else bar.count,
                    role=current_role(),
                    stage=None if bar is None else bar.stage,
                    upkeep=None if bar is None else bar.accounts,
                )
            except ValidationError as e:
                if as_json:
                    from demine.services.register import group_rejects

                    # each fault once: in the problem's "errors", as on every face; "rejected"
                    # names the features, without their faults again
                    rejected = group_rejects([f for f in e.faults if f.index is not None])
                    print_json(
                        {
                            "imported": 0,
                            "stored": False,
                            "rejected": [
                                {k: v for k, v in g.items() if k != "faults"} for g in rejected
                            ],
                            "error": e.to_problem(),
                        }
                    )
                    raise typer.Exit(1) from None
                raise
        if as_json:
            if len(reports) == 1:
                print_json(reports[0].to_dict())
            else:
                print_json(_totals([r.to_dict() for r in reports]))
        else:
            for r in reports:
                _print_report(r, "imported")


def _totals(files: list[dict[str, Any]]) -> dict[str, Any]:
    """Several files' reports: the counts summed and the rejected features, repairs and
    warnings of every file (each naming its file); under ``files`` each file's counts, with the
    number of its rejected features, repairs and warnings (each fault is listed once)."""
    out: dict[str, Any] = {"kind": files[0]["kind"]}
    for k in (
        "total",
        "imported",
        "created",
        "updated",
        "unchanged",
        "duplicates",
        "skipped_duplicates",
        "duplicates_of_stored",
    ):
        out[k] = sum(f[k] for f in files)
    out["stored"] = all(f["stored"] for f in files)
    lists = ("rejected", "repairs", "warnings")
    for k in lists:
        out[k] = [x for f in files for x in f[k]]
    out["files"] = [
        {k: v for k, v in f.items() if k not in lists} | {f"{k}_count": len(f[k]) for k in lists}
        for f in files
    ]
    return out


def validate(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="GeoJSON, GeoPackage or CSV files.")
    ],
    kind: Annotated[str, typer.Option("--kind", "-k", help="Kind to check against.")] = "hazards",
    repair: Annotated[bool, typer.Option("--repair", help="Show what --repair would do.")] = False,
    mapping_file: MappingFileOpt = None,
    mapping: MapOpt = None,
    set_: SetOpt = None,
    value: ValueOpt = None,
    date_format: DateOpt = None,
    layer: LayerOpt = None,
    wkt_column: WktOpt = None,
    lon_column: LonOpt = None,
    lat_column: LatOpt = None,
    max_vertex_jump: JumpOpt = None,
    strict: StrictOpt = False,
    duplicate_tolerance: TolOpt = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Run the import checks on files without storing anything. Exit 1 if any fault."""
    from demine.services.register import validate_file

    with handled(as_json):
        opts = _options(
            kind,
            False,
            repair,
            _Mapping(mapping_file, mapping, set_, value, date_format),
            layer,
            wkt_column,
            lon_column,
            lat_column,
            None,
            max_vertex_jump,
            strict,
            False,
            duplicate_tolerance,
        )
        reports = [validate_file(f, opts) for f in files]
        if as_json:
            ds = [r.to_dict() | {"valid": not r.rejected} for r in reports]
            if len(ds) == 1:
                print_json(ds[0])
            else:
                print_json(_totals(ds) | {"valid": all(d["valid"] for d in ds)})
        else:
            con = console()
            for file, report in zip(files, reports, strict=True):
                for f in report.repairs:
                    con.print(f"  would repair: {f}", markup=False)
                for f in report.warnings[:50]:
                    con.print(f"  warning: {f}", markup=False)
                for r in report.rejected:
                    con.print(f"  fault: {rejected_text(r)}", markup=False)
                ok = not report.rejected
                con.print(
                    f"{file.name}: {report.total} features, "
                    f"{'no faults' if ok else str(len(report.rejected)) + ' with faults'}"
                )
                if report.duplicates:
                    con.print(f"{file.name}: {report.duplicates} duplicate features", markup=False)
        if any(r.rejected for r in reports):
            raise typer.Exit(1)
