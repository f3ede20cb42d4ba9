"""``demine extract``: land-status extracts (docs/extract.md): the authority's signing key
(``keygen``, ``keys``, ``revoke``), an extract for a point or a parcel (``make``) and the check of
one (``verify``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from demine.cli.common import DbOpt, JsonOpt, console, handled, open_db, print_json, state
from demine.errors import Conflict, Fault, ValidationError
from demine.files import write_private

extract_app = typer.Typer(
    name="extract",
    help="Land-status extracts: which recorded hazards, releases, public EO reports and "
    "activities touch a point or a parcel as of a date, signed with the authority's Ed25519 "
    "key (HTML, PDF or JSON); and their check. An extract never says land is safe.",
    no_args_is_help=True,
)

EXIT_CHANGED = 6  # a valid signature, but the records for the place have changed since


@extract_app.command("keygen")
def keygen_cmd(
    out: Annotated[
        Path, typer.Option("--out", help="Where to write the private key (PEM, mode 0600).")
    ],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make the authority's signing key: the private key is written to --out (never
    overwritten, never stored), its public key registered in the store. Admin role."""
    from demine.services.extract import generate_key, register_key, require_key_admin

    with handled(as_json):
        require_key_admin(state.role)
        if out.exists():
            raise Conflict("--out names an existing file: a key is never overwritten")
        store = open_db(db)
        pem, entry = generate_key()
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as e:
            raise ValidationError(
                "cannot write the key", [Fault(e.strerror or "not writable", field="--out")]
            ) from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        try:
            register_key(store, entry)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        if as_json:
            print_json({"key_id": entry["key_id"], "public_key": entry["public_key"]})
        else:
            console().print(
                f"key {entry['key_id']} registered; private key written to {out} (keep it "
                "secret; serve with --extract-key)",
                markup=False,
            )


@extract_app.command("keys")
def keys_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """The extract keys this store knows (public parts), revoked ones too."""
    from demine.services.extract import keys

    with handled(as_json):
        rows = keys(open_db(db))
        if as_json:
            print_json(rows)
            return
        for k in rows:
            state_ = f"revoked {k['revoked_at']}" if k.get("revoked_at") else "in use"
            console().print(f"{k['key_id']}  created {k['created_at']}  {state_}", markup=False)


@extract_app.command("revoke")
def revoke_cmd(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke an extract key: every extract it signed no longer verifies. Admin role."""
    from demine.services.extract import require_key_admin, revoke_key

    with handled(as_json):
        require_key_admin(state.role)
        k = revoke_key(open_db(db), key_id)
        if as_json:
            print_json(k)
        else:
            console().print(f"key {k['key_id']} revoked at {k['revoked_at']}", markup=False)


def _point(text: str) -> dict[str, Any]:
    parts = text.replace(" ", "").split(",")
    try:
        lat, lon = (float(x) for x in parts)
    except ValueError:
        raise ValidationError(
            f"bad --point {text!r}", [Fault("expected LAT,LON in decimal degrees", field="--point")]
        ) from None
    return {"type": "Point", "coordinates": [lon, lat]}


def _parcel(path: Path) -> dict[str, Any]:
    bad = ValidationError(
        "bad --parcel",
        [
            Fault(
                "expected a GeoJSON Polygon or MultiPolygon (or one Feature of one)",
                field="--parcel",
            )
        ],
    )
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError:
        raise ValidationError(
            "cannot read --parcel", [Fault("no readable file there", field="--parcel")]
        ) from None
    except ValueError:
        raise bad from None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        feats = data.get("features") or []
        if len(feats) != 1:
            raise ValidationError(
                "bad --parcel",
                [Fault(f"the collection has {len(feats)} features; give one", field="--parcel")],
            )
        data = feats[0]
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry")
    if not isinstance(data, dict) or data.get("type") not in ("Polygon", "MultiPolygon"):
        raise bad
    return data


@extract_app.command("make")
def make_cmd(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The extract: .html, .pdf or .json.")
    ],
    point: Annotated[
        str | None, typer.Option("--point", help="LAT,LON (decimal degrees, WGS 84).")
    ] = None,
    parcel: Annotated[
        Path | None, typer.Option("--parcel", help="A GeoJSON file of the parcel's polygon.")
    ] = None,
    radius: Annotated[
        float, typer.Option("--radius", help="Also what lies within this many metres.")
    ] = 0.0,
    lang: Annotated[str, typer.Option("--lang", help="uk or en (both are shown).")] = "uk",
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Records as they stood at the end of this date (default: now).",
        ),
    ] = None,
    authority: Annotated[
        str | None,
        typer.Option("--authority", help="Who issues it (default: the store's setting)."),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key", envvar="DEMINE_EXTRACT_KEY", help="The private key (demine extract keygen)."
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option("--public-url", help="The server's address, for the QR code's verify link."),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a signed land-status extract for a point or a parcel."""
    from demine.services.extract import area_of, check_as_of, issue, load_private_key
    from demine.services.extract_doc import check_lang, document_html, document_pdf

    with handled(as_json):
        suffix = output.suffix.lower()
        if suffix not in (".html", ".pdf", ".json"):
            raise ValidationError(
                "bad --output", [Fault("the name must end .html, .pdf or .json", field="--output")]
            )
        if (point is None) == (parcel is None):
            raise ValidationError(
                "no place", [Fault("give --point LAT,LON or --parcel FILE (one)", field="--point")]
            )
        if key is None:
            raise ValidationError(
                "no signing key",
                [Fault("give --key FILE or set DEMINE_EXTRACT_KEY", field="--key")],
            )
        store = open_db(db)
        lang = check_lang(lang)
        day = check_as_of(as_of, field_name="--as-of")
        geometry = _point(point) if point is not None else _parcel(parcel)  # type: ignore[arg-type]
        area = area_of(geometry, radius, where="--point" if point else "--parcel")
        private = load_private_key(key)
        doc = issue(store, area, private, as_of=day, authority=authority, lang=lang)
        base = public_url or store.setting("public_url")
        if suffix == ".json":
            from demine.services.extract import canonical

            data = canonical(doc)
        elif suffix == ".html":
            data = document_html(doc, private, base_url=base)
        else:
            data = document_pdf(doc, private, base_url=base)
        write_private(output, data)
        p = doc["payload"]
        if as_json:
            print_json(
                {
                    "extract_id": p["extract_id"],
                    "records": len(p["records"]),
                    "as_of": p["as_of"],
                    "key_id": p["key_id"],
                    "output": str(output),
                }
            )
        else:
            console(stderr=True).print(
                f"wrote {output}: extract {p['extract_id']}, {len(p['records'])} records as of "
                f"{p['as_of']}",
                markup=False,
            )


@extract_app.command("verify")
def verify_cmd(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The extract (.html, .pdf, .json).")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check an extract: exit 0 if its signature is valid and nothing recorded for the place has
    changed since; 1 if it is not valid (changed, forged, unknown or revoked key); 6 if it is
    valid but the records have changed since (each named)."""
    from demine.services.extract import keys, verify_document
    from demine.services.extract_doc import read_extract

    with handled(as_json):
        store = open_db(db)
        keys(store)  # the store's keys first: an unreachable store is said so, whatever the file
        try:
            data = file.read_bytes()
        except OSError:
            raise ValidationError(
                "cannot read the extract", [Fault("no readable file there", field="FILE")]
            ) from None
        doc, seal, body = read_extract(data)
        c = verify_document(store, doc, seal, body)
    if as_json:
        print_json(c.to_dict())
    else:
        console().print(c.message, markup=False)
        for ch in c.changes:
            console().print(
                f"  {ch['change']}: {ch['kind']} {ch['id']} (revision {ch['revision']})",
                markup=False,
            )
    if not c.valid:
        sys.exit(1)
    if c.changed:
        sys.exit(EXIT_CHANGED)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`)."""
    app.add_typer(extract_app, name="extract")
