"""``demine attach``, ``demine attachments``, ``demine attachment get``: photos and documents
on records, over :mod:`demine.services.attachments`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from demine.cli.common import DbOpt, JsonOpt, console, print_json, state, with_store
from demine.errors import Fault, ValidationError

IdArg = Annotated[
    str, typer.Argument(metavar="ID", help="Record id (UUID), or a submission's with --submission.")
]
SubmissionOpt = Annotated[
    bool,
    typer.Option(
        "--submission",
        help="ID is a submission's (its organisation's submitters and the reviewers): "
        "its files move to the record when it is approved.",
    ),
]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ValidationError(
            f"cannot read {path}: {e.strerror or e}",
            [Fault(e.strerror or str(e), field="FILE", source=str(path))],
        ) from None


def attach(
    record_id: IdArg,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A JPEG, PNG or PDF file.")],
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="The record's kind (found from the id if left out)."),
    ] = None,
    submission: SubmissionOpt = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Attach a photo or document (JPEG, PNG, PDF) to a record or a submission.

    The type is read from the file's content, not its name. A photo's EXIF location and time
    are kept for the roles that may read originals (analyst, reviewer, admin), and a public
    copy without any metadata is made. Whoever may write the record's kind may attach to it; a
    field team's or an operator's file on a record is a submission until approved."""
    from demine.services.attachments import attach as attach_
    from demine.services.attachments import attach_submission
    from demine.services.records import current_actor

    with with_store(db, as_json) as store:
        data = _read(file)
        if submission:
            att = attach_submission(
                store, record_id, file.name, data, role=state.role, actor=current_actor()
            )
        else:
            att = attach_(
                store, record_id, file.name, data, role=state.role, actor=current_actor(), kind=kind
            )
        if as_json:
            print_json(att)
        else:
            console().print(
                f"attached {att.get('filename', file.name)} ({att['content_type']}) to "
                f"{att['owner_kind']} {att['owner_id']}: {att['attachment_id']}",
                markup=False,
            )
            _exif_line(att)


def _exif_line(att: dict[str, Any]) -> None:
    exif = att.get("exif") or {}
    if exif.get("lat") is not None or exif.get("time"):
        where = (
            f"{exif['lat']:.6f}, {exif['lon']:.6f}" if exif.get("lat") is not None else "no place"
        )
        console().print(
            f"    EXIF: {where}; taken {exif.get('time') or 'at an unknown time'}", markup=False
        )


def attachments(
    record_id: IdArg,
    kind: Annotated[str | None, typer.Option("--kind", help="The record's kind.")] = None,
    submission: SubmissionOpt = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a record's (or a submission's) attachments.

    File names, who added them and the EXIF location and time are shown only to the roles
    that may read originals (analyst, reviewer, admin)."""
    from demine.services.attachments import list_record, list_submission
    from demine.services.records import current_actor

    with with_store(db, as_json) as store:
        if submission:
            sub, atts = list_submission(store, record_id, role=state.role, actor=current_actor())
            owner, oid = "submission", str(sub["id"])
        else:
            rec, atts = list_record(store, record_id, role=state.role, kind=kind)
            owner, oid = rec.kind, rec.id
        if as_json:
            print_json({"kind": owner, "id": oid, "attachments": atts})
            return
        con = console()
        con.print(f"attachments of {owner} {oid}: {len(atts)}", markup=False)
        for a in atts:
            name = f" {a['filename']}," if "filename" in a else ""
            size = f" {a['size']:,} bytes," if "size" in a else ""
            con.print(
                f"  {a['attachment_id']}{name} {a['content_type']},{size} added "
                f"{a['created_at']}" + ("" if a["public_copy"] else " (no public copy)"),
                markup=False,
            )
            _exif_line(a)


attachment_app = typer.Typer(
    name="attachment", help="One attachment: its file.", no_args_is_help=True
)


@attachment_app.command("get")
def attachment_get(
    attachment_id: Annotated[str, typer.Argument(metavar="ATT_ID", help="Attachment id.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Write the file here.")],
    public: Annotated[
        bool,
        typer.Option(
            "--public",
            help="The public copy (no EXIF or other metadata) even for a role that may read "
            "the original. Roles that may not always get the public copy.",
        ),
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write an attachment's file: the original for roles that may read it (analyst,
    reviewer, admin), otherwise the public copy without metadata (a PDF has none)."""
    from demine.files import write_private
    from demine.services.attachments import get
    from demine.services.records import current_actor

    with with_store(db, as_json) as store:
        meta, data, _ = get(
            store,
            attachment_id,
            role=state.role,
            public=True if public else None,
            actor=current_actor(),
        )
        write_private(output, data)  # owner only: an original may hold personal data
        if as_json:
            print_json({**meta, "file": str(output), "bytes": len(data)})
        else:
            what = "original" if meta["copy"] == "original" else "public copy"
            console().print(
                f"wrote the {what} of {attachment_id} ({len(data):,} bytes) to {output}"
            )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`)."""
    app.command()(attach)
    app.command()(attachments)
    app.add_typer(attachment_app, name="attachment")
