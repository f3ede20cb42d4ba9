"""``demine organisations``, ``demine submit`` and ``demine review``: intake (issue 13,
docs/intake.md). The CLI's user is ``DEMINE_USER`` (or the login name), its organisation that
user's in the store (``demine user add NAME --organisation CODE``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from demine.cli.common import (
    DbOpt,
    JsonOpt,
    console,
    current_role,
    handled,
    print_json,
    state,
    with_store,
)
from demine.cli.importing import KindOpt, MappingFileOpt
from demine.errors import Fault, ValidationError

ORG_TYPES = ("authority", "operator", "partner")

org_app = typer.Typer(
    name="organisations",
    help="Organisations: the national authority, operators, partners.",
    no_args_is_help=True,
)
review_app = typer.Typer(
    name="review",
    help="Review submissions: list, show, approve, reject, return (reviewer or admin role; "
    "an operator's QA first with two approval levels), submit a draft, report.",
    no_args_is_help=True,
)
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (kept in the events).")]


def _user() -> str:
    from demine.services.records import current_actor

    return current_actor()


def _role() -> str:
    """The role review commands check (--role / DEMINE_ROLE): reviewer or admin to decide."""
    return current_role()


@org_app.command("add")
def org_add(
    code: Annotated[str, typer.Argument(help="Short code: letters, digits, _ and - (1-32).")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    type_: Annotated[
        str, typer.Option("--type", help="authority, operator or partner.")
    ] = "operator",
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an organisation, or change its name and type (admin role)."""
    from demine.services.access import require_user_admin

    with handled(as_json):
        faults = []
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", code):
            faults.append(Fault("letters, digits, _ and - only, 1 to 32", field="CODE"))
        if type_ not in ORG_TYPES:
            faults.append(Fault(f"expected one of {', '.join(ORG_TYPES)}", field="--type"))
        if not name.strip() or len(name) > 200:
            faults.append(Fault("a name of 1 to 200 characters", field="--name"))
        if faults:
            raise ValidationError(f"cannot add organisation {code!r}", faults)
        require_user_admin(state.role)
        from demine.cli.common import open_db

        open_db(db).add_organisation(code, name.strip(), type_)
        if as_json:
            print_json({"organisation": code, "name": name.strip(), "type": type_})
        else:
            console().print(f"organisation {code}: {name.strip()} ({type_})", markup=False)


@org_app.command("list")
def org_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List the organisations and how many users each has."""
    with with_store(db, as_json) as store:
        rows = store.organisations()
        if as_json:
            print_json({"organisations": rows})
        else:
            for o in rows:
                console().print(
                    f"{o['code']}\t{o['type']}\t{o['users']} user(s)\t{o['name']}", markup=False
                )


def submit(
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage or CSV file.")],
    kind: KindOpt,
    resubmit: Annotated[
        str | None,
        typer.Option("--resubmit", help="The id of a returned batch this file corrects."),
    ] = None,
    mapping_file: MappingFileOpt = None,
    repair: Annotated[bool, typer.Option("--repair", help="Repair what can be.")] = False,
    draft: Annotated[
        bool,
        typer.Option(
            "--draft",
            help="Keep it as a draft of your organisation (no reviewer sees it) until "
            "'demine review submit ID'.",
        ),
    ] = False,
    reason: ReasonOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Submit an import file as one batch for review. It is checked as an import is: with
    faults it is kept, returned for correction, every fault located (exit 1); correct the file
    and send it again with --resubmit ID. Its quality (score, missing minimum data) is kept."""
    from demine.services.import_check import ImportOptions
    from demine.services.imports import Batch, import_files

    with with_store(db, as_json) as store:
        opts = ImportOptions(
            kind=kind, repair=repair, mapping_file=mapping_file, reason=reason, actor=_user()
        )
        import_files(
            store, [file], opts, role=current_role(), batch=Batch(resubmit=resubmit, draft=draft)
        )


def _score(sub: dict[str, Any]) -> str:
    q = sub.get("quality")
    score = q.get("mean_score", q.get("score")) if isinstance(q, dict) else None
    return "-" if score is None else f"{score:g}"


def _show_text(sub: dict[str, Any]) -> None:
    con = console()
    con.print(
        f"{sub['id']}\t{sub['state']}\t{sub['action']} {sub['kind']}\t{sub['organisation']}"
        f"\t{sub['submitter']}\t{sub['created_at']}\tquality {_score(sub)}",
        markup=False,
    )


@review_app.command("list")
def review_list(
    state_: Annotated[str | None, typer.Option("--state", help="Only this state.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the submissions you may see (reviewers every one; a field team or operator its
    organisation's), newest first."""
    from demine.services import intake

    with with_store(db, as_json) as store:
        rows = intake.listing(store, _role(), _user(), state_)
        if as_json:
            print_json({"submissions": rows})
        else:
            for r in rows:
                _show_text(r)


@review_app.command("show")
def review_show(
    sid: Annotated[str, typer.Argument(help="The submission's id.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A submission: what it would change, its faults and every event (who, when, why); the
    stored records it may duplicate (candidates) and the record it would change (current)."""
    from demine.services import intake
    from demine.services.intake.compare import side_by_side

    with with_store(db, as_json) as store:
        sub = intake.get(store, sid, _role(), _user())
        sub = {**sub, **side_by_side(store, sub, _role())}
        if as_json:
            print_json(sub)
            return
        _show_text(sub)
        if sub["target_id"]:
            console().print(f"  record {sub['target_id']} (revision {sub['base_revision']})")
        c = sub.get("stale") or sub.get("conflict")  # made on a revision since replaced
        if c:
            console().print(
                f"  CONFLICT: made on revision {c['base_revision']}, the record is now at "
                f"revision {c['current_revision']} (approval is refused: return or reject it)",
                markup=False,
            )
        for o in sub.get("concurrent") or []:
            console().print(
                f"  ALSO PENDING on this record: submission {o['id']} ({o['state']}, "
                f"{o['action']} made on revision {o['base_revision']}): approving one makes "
                "the other stale",
                markup=False,
            )
        for c in sub["candidates"]:
            console().print(
                f"  candidate {c['kind']} {c['id']}: {'; '.join(c['reasons'])}", markup=False
            )
        for f in sub["faults"] or []:
            console().print(f"  fault: {f}", markup=False)
        _quality_text(sub.get("quality"))
        for e in sub["events"]:
            why = f": {e['reason']}" if e["reason"] else ""
            console().print(f"  {e['at']}\t{e['state']}\tby {e['actor']}{why}", markup=False)


def _quality_text(q: Any) -> None:
    if not isinstance(q, dict):
        return
    con = console()
    for item in q.get("features") or [q]:
        head = f"  feature {item['index']}: " if "index" in item else "  "
        miss = ", ".join(item.get("missing") or []) or "none"
        con.print(f"{head}quality {item['score']}, missing minimum data: {miss}", markup=False)
    if "mean_score" in q:
        con.print(f"  mean quality {_score({'quality': q})}", markup=False)


@review_app.command("approve")
def review_approve(
    sid: Annotated[str, typer.Argument(help="The submission's id.")],
    reason: ReasonOpt = None,
    update: Annotated[
        str | None,
        typer.Option(
            "--update",
            help="Reconcile a new record as an update (replace) of this existing record.",
        ),
    ] = None,
    merge_into: Annotated[
        str | None,
        typer.Option(
            "--merge-into",
            help="A duplicate: approve it as new and merge it into this existing record.",
        ),
    ] = None,
    link: Annotated[
        str | None,
        typer.Option("--link", help="Approve it as new, linked to this existing record."),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a submission: written through the one write path, the submitter as author and
    you as approver in the records' history (a batch: all its records at once). With two
    approval levels ('demine review levels 2') an operator of the submission's organisation
    approves it first (approved_operator), a reviewer then."""
    from demine.services import intake

    with with_store(db, as_json) as store:
        out = intake.approve(
            store,
            sid,
            role=_role(),
            actor=_user(),
            reason=reason,
            update=update,
            merge_into=merge_into,
            link=link,
        )
        if as_json:
            print_json(out)
        elif out["state"] == "approved_operator":
            console().print(f"approved_operator {sid}: passed on to the authority's review")
        elif "merged_into" in out:
            console().print(f"approved {sid} and merged it into {out['merged_into']}")
        else:
            console().print(f"approved {sid}: {len(out['ids'])} record(s) written")


@review_app.command("merge")
def review_merge(
    kind: Annotated[str, typer.Argument(help="The kind of both records, e.g. hazards.")],
    survivor: Annotated[str, typer.Argument(help="The record that stays.")],
    other: Annotated[str, typer.Argument(help="The record merged into it (then deleted).")],
    reason: ReasonOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Merge record OTHER into SURVIVOR (reviewer or admin): what refers to OTHER refers to
    SURVIVOR, its attachments move, OTHER is deleted and its id redirects to SURVIVOR; both
    histories stay. One transaction: a refusal half way stores nothing."""
    from demine.services.intake.merge import merge

    with with_store(db, as_json) as store:
        out = merge(store, kind, survivor, other, role=_role(), actor=_user(), reason=reason)
        if as_json:
            print_json(out)
        else:
            console().print(
                f"merged {out['merged']} into {out['survivor']}: {len(out['repointed'])} "
                f"reference(s) changed, {out['attachments']} attachment(s) moved",
                markup=False,
            )


def _decide(what: str, sid: str, reason: str | None, db: str | None, as_json: bool) -> None:
    from demine.services import intake

    with with_store(db, as_json) as store:
        if what == "reject":
            intake.reject(store, sid, role=_role(), actor=_user(), reason=reason)
        else:
            intake.return_(store, sid, role=_role(), actor=_user(), reason=reason)
        state_ = "rejected" if what == "reject" else "returned"
        if as_json:
            print_json({"id": sid, "state": state_})
        else:
            console().print(f"{state_} {sid}")


@review_app.command("reject")
def review_reject(
    sid: Annotated[str, typer.Argument(help="The submission's id.")],
    reason: ReasonOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reject a submission, with a reason (required)."""
    _decide("reject", sid, reason, db, as_json)


@review_app.command("return")
def review_return(
    sid: Annotated[str, typer.Argument(help="The submission's id.")],
    reason: ReasonOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Return a submission to its organisation for correction, with a reason (required)."""
    _decide("return", sid, reason, db, as_json)


@review_app.command("submit")
def review_submit(
    sid: Annotated[str, typer.Argument(help="The draft's id.")],
    reason: ReasonOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a draft of your organisation for review (checked again: a draft with faults is
    refused, every fault listed)."""
    from demine.services import intake

    with with_store(db, as_json) as store:
        sub = intake.submit_draft(store, sid, role=_role(), actor=_user(), reason=reason)
        if as_json:
            print_json({"id": sid, "state": sub["state"], "quality": sub["quality"]})
        else:
            console().print(f"submitted {sid} for review (quality {_score(sub)})")


@review_app.command("levels")
def review_levels(
    levels: Annotated[
        int | None,
        typer.Argument(
            help="1: a reviewer approves; 2: an operator's QA first, then a reviewer (admin). "
            "Without it: show the setting."
        ),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show or set the approval levels (store setting approval_levels)."""
    from demine.services import intake

    with with_store(db, as_json) as store:
        n = (
            intake.levels(store)
            if levels is None
            else intake.set_levels(store, levels, role=_role())
        )
        if as_json:
            print_json({"approval_levels": n})
        else:
            console().print(f"approval levels: {n}")


@review_app.command("report")
def review_report(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Per organisation: submissions by state, hours from submitted to approved (median, 90th
    percentile), mean quality score and the minimum data most often missing (reviewers every
    organisation; a field team or an operator its own)."""
    from demine.services import intake

    with with_store(db, as_json) as store:
        rep = intake.report(store, _role(), _user())
        if as_json:
            print_json(rep)
            return
        con = console()
        states = [s for s in rep["organisations"][0]["by_state"]] if rep["organisations"] else []
        con.print("\t".join(["organisation", *states, "median h", "p90 h", "quality"]))
        for o in rep["organisations"]:
            cells = [str(o["by_state"][s]) for s in states]
            figs = [o["approved_median_hours"], o["approved_p90_hours"], o["quality_mean"]]
            con.print(
                "\t".join([o["code"], *cells, *("-" if v is None else f"{v:g}" for v in figs)]),
                markup=False,
            )
            if o["missing"]:
                top = ", ".join(f"{k} {n}" for k, n in list(o["missing"].items())[:5])
                con.print(f"  most missing: {top}", markup=False)
        con.print(f"generated at {rep['generated_at']}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(org_app)
    app.command("submit")(submit)
    app.add_typer(review_app)
