"""The record kinds of the register, in IMAS vocabulary (IMAS 05.10, 07.11, 08.10, 08.20).

Each kind is one GeoPackage table of the same name. Layers (reference layers a user imports for
context) are kinds made at import time, with the fields their source has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from demine.model.dates import certainly_after, certainly_before, is_partial
from demine.model.devices import CATEGORIES, Persistence
from demine.model.schema import Access, FieldSpec, Rule
from demine.model.schema import FieldType as T

POLYGONAL = frozenset({"Polygon", "MultiPolygon"})
PUNCTUAL = frozenset({"Point"})


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    title: str
    description: str
    geometry_type: str | None  # GeoPackage geometry type name, None for an attributes table
    allowed_geometries: frozenset[str] | None
    geometry_required: bool
    fields: tuple[FieldSpec, ...]
    rules: tuple[Rule, ...] = ()
    natural_key: str | None = None  # a field unique within the kind (device_types.code)
    is_layer: bool = False

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _order(*pairs: tuple[str, str]) -> Rule:
    """Rule: for each (earlier, later) pair of date fields, earlier <= later when both are set;
    with a partial or unknown date, a fault only when certainly out of order."""

    def rule(p: Mapping[str, Any]) -> list[tuple[str, str]]:
        out = []
        for a, b in pairs:
            if p.get(a) is not None and p.get(b) is not None and certainly_before(p[b], p[a]):
                out.append((b, f"{b} ({p[b]}) is before {a} ({p[a]})"))
        return out

    return rule


def _not_future(*names: str) -> Rule:
    def rule(p: Mapping[str, Any]) -> list[tuple[str, str]]:
        limit = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        return [
            (n, f"{n} ({p[n]}) is in the future")
            for n in names
            if p.get(n) is not None and certainly_after(p[n], limit)
        ]

    return rule


def _hazard_status(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    if p.get("status") in ("closed", "handed_over") and not p.get("closed_on"):
        return [("closed_on", f"a hazard with status {p['status']} needs closed_on")]
    if p.get("status") == "open" and p.get("closed_on"):
        return [("closed_on", "an open hazard cannot have closed_on")]
    for name in ("handed_over_to", "handed_over_on"):
        if p.get(name) and p.get("status") != "handed_over":
            return [(name, f"a hazard with status {p.get('status')} cannot have {name}")]
    return []


def _quantity(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    q, lo, hi = p.get("quantity"), p.get("quantity_min"), p.get("quantity_max")
    out = []
    if lo is not None and hi is not None and lo > hi:
        out.append(("quantity_min", f"quantity_min ({lo}) is above quantity_max ({hi})"))
    if q is not None and lo is not None and q < lo:
        out.append(("quantity", f"quantity ({q}) is below quantity_min ({lo})"))
    if q is not None and hi is not None and q > hi:
        out.append(("quantity", f"quantity ({q}) is above quantity_max ({hi})"))
    return out


def _laying_period(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    """laid_earliest (the first possible laying date) is not after laid_at (the latest)."""
    a, b = p.get("laid_earliest"), p.get("laid_at")
    if a is None or b is None:
        return []

    def t(v: Any) -> datetime:
        return datetime.fromisoformat(str(v).replace("Z", "+00:00"))

    if (
        (is_partial(a) or is_partial(b))
        and certainly_before(b, a)
        or (not is_partial(a) and not is_partial(b) and t(a) > t(b))
    ):
        return [
            (
                "laid_earliest",
                f"laid_earliest ({a}) is after laid_at ({b}): laid_at is the latest possible "
                "laying date, laid_earliest the first",
            )
        ]
    return []


def _device_type_rule(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    per = p.get("persistence")
    if (
        per in (Persistence.SELF_DESTRUCT.value, Persistence.BOTH.value)
        and p.get("sd_days") is None
    ):
        out.append(("sd_days", f"a {per} device type needs sd_days"))
    if per in (Persistence.SELF_DEACTIVATE.value, Persistence.BOTH.value) and (
        p.get("battery_days") is None
    ):
        out.append(("battery_days", f"a {per} device type needs battery_days"))
    for name in ("sd_days", "battery_days"):
        v = p.get(name)
        if isinstance(v, int | float) and not isinstance(v, bool) and v <= 0:
            out.append(
                (
                    name,
                    f"{name} must be > 0, not {v!r}: a mechanism acting on the day of laying "
                    "would count every device at its failure rate at once",
                )
            )
    for a, b in (("sd_fail_alpha", "sd_fail_beta"), ("residual_alpha", "residual_beta")):
        if (p.get(a) is None) != (p.get(b) is None):
            out.append((b, f"{a} and {b} go together"))
    if per == Persistence.PERSISTENT.value and not p.get("prior_source"):
        pass
    if (
        per != Persistence.PERSISTENT.value
        and p.get("sd_fail_alpha") is None
        and (p.get("residual_alpha") is None)
    ):
        out.append(("sd_fail_alpha", "a non-persistent device type needs failure-rate priors"))
    if p.get("sd_fail_alpha") is not None and not p.get("prior_source"):
        out.append(("prior_source", "every failure-rate prior needs its source"))
    return out


ORG = FieldSpec("organisation", T.TEXT, "Organisation responsible or reporting")
NOTES = FieldSpec("notes", T.TEXT, "Free text")

HAZARDS = Kind(
    name="hazards",
    title="Hazardous areas",
    description=(
        "Suspected (SHA, indirect evidence) and confirmed (CHA, direct evidence) hazardous "
        "areas (IMAS 08.10, 08.20). Status changes only by land release."
    ),
    geometry_type="MULTIPOLYGON",
    allowed_geometries=POLYGONAL,
    geometry_required=True,
    fields=(
        FieldSpec("name", T.TEXT, "Name or local designation"),
        FieldSpec("reference", T.TEXT, "National hazard reference code"),
        FieldSpec(
            "hazard_type",
            T.ENUM,
            "SHA (indirect evidence) or CHA (direct evidence)",
            required=True,
            choices=("SHA", "CHA"),
        ),
        FieldSpec(
            "status",
            T.ENUM,
            "open, closed or handed_over",
            required=True,
            choices=("open", "closed", "handed_over"),
        ),
        FieldSpec(
            "device_categories",
            T.ENUM_LIST,
            "Categories of device suspected or found",
            choices=CATEGORIES,
        ),
        ORG,
        FieldSpec("reported_on", T.DATE, "Date first reported", partial=True, unknown=True),
        FieldSpec(
            "surveyed_on",
            T.DATE,
            "Date of the survey that defined it",
            partial=True,
            unknown=True,
        ),
        FieldSpec("closed_on", T.DATE, "Date closed (by land release)", partial=True),
        FieldSpec(
            "handed_over_to",
            T.TEXT,
            "Who received the released land (community, land user)",
            access=Access.ANALYST,
        ),
        FieldSpec("handed_over_on", T.DATE, "Date the released land was handed over", partial=True),
        FieldSpec("evidence", T.TEXT, "Evidence of contamination"),
        FieldSpec("admin_area", T.TEXT, "Administrative area"),
        NOTES,
        FieldSpec(
            "area_m2", T.REAL, "Geodesic area (WGS 84), computed by demine", derived=True, unit="m2"
        ),
    ),
    rules=(
        _hazard_status,
        _order(
            ("reported_on", "surveyed_on"),
            ("reported_on", "closed_on"),
            ("closed_on", "handed_over_on"),
        ),
    ),
)

EMPLACEMENTS = Kind(
    name="emplacements",
    title="Emplacement records",
    description=(
        "Records of where devices were laid, with what CCW Amended Protocol II, Technical "
        "Annex 1 asks a record to hold. Geometry: a perimeter polygon or a reference point."
    ),
    geometry_type="GEOMETRY",
    allowed_geometries=POLYGONAL | PUNCTUAL | frozenset({"MultiPoint"}),
    geometry_required=True,
    fields=(
        FieldSpec("hazard_id", T.UUID, "The hazard this record belongs to"),
        FieldSpec("device_type", T.TEXT, "Device type code", required=True),
        FieldSpec(
            "quantity",
            T.INTEGER,
            "Number laid, best estimate",
            required=True,
            minimum=0,
            access=Access.ANALYST,
        ),
        FieldSpec(
            "quantity_min",
            T.INTEGER,
            "Number laid, lowest estimate",
            minimum=0,
            access=Access.ANALYST,
        ),
        FieldSpec(
            "quantity_max",
            T.INTEGER,
            "Number laid, highest estimate",
            minimum=0,
            access=Access.ANALYST,
        ),
        FieldSpec(
            "emplacing_method", T.ENUM, "hand or remote", choices=("hand", "remote", "unknown")
        ),
        FieldSpec(
            "laid_at",
            T.DATETIME,
            "Date and time of laying (UTC); with a laying period, its latest. A legacy "
            "record may give a year-month or a year: the estimate counts from its last day",
            required=True,
            partial=True,
        ),
        FieldSpec(
            "laid_earliest",
            T.DATETIME,
            "First possible date and time of laying (UTC), when laying was spread over a period "
            "or its date is uncertain; the estimate counts from laid_at (the latest)",
            partial=True,
        ),
        FieldSpec("fuse_type", T.TEXT, "Fuse type as recorded", access=Access.ANALYST),
        FieldSpec(
            "fuse_life_days",
            T.REAL,
            "Fuse life time, days",
            minimum=0,
            unit="d",
            access=Access.ANALYST,
        ),
        FieldSpec(
            "self_destruct_days",
            T.REAL,
            "Recorded self-destruct period, days",
            minimum=0,
            unit="d",
            access=Access.ANALYST,
        ),
        FieldSpec(
            "anti_handling", T.BOOLEAN, "Anti-handling devices present", access=Access.ANALYST
        ),
        FieldSpec("length_m", T.REAL, "Estimated length of the area, m", minimum=0, unit="m"),
        FieldSpec("width_m", T.REAL, "Estimated width of the area, m", minimum=0, unit="m"),
        FieldSpec(
            "reference_points",
            T.TEXT,
            "Reference points as described in the record",
            access=Access.ANALYST,
        ),
        FieldSpec("record_source", T.TEXT, "Where the record comes from"),
        FieldSpec(
            "confidence", T.ENUM, "Confidence in the record", choices=("high", "medium", "low")
        ),
        NOTES,
    ),
    rules=(_quantity, _not_future("laid_at", "laid_earliest"), _laying_period),
)

DEVICE_TYPES = Kind(
    name="device_types",
    title="Device types",
    description="Generic device types with persistence class and failure-rate priors.",
    geometry_type=None,
    allowed_geometries=None,
    geometry_required=False,
    fields=(
        FieldSpec("code", T.TEXT, "Short unique code", required=True),
        FieldSpec("name", T.TEXT, "Name", required=True),
        FieldSpec("category", T.ENUM, "Device category", required=True, choices=CATEGORIES),
        FieldSpec(
            "persistence",
            T.ENUM,
            "Persistence class",
            required=True,
            choices=tuple(p.value for p in Persistence),
        ),
        FieldSpec("sd_days", T.REAL, "Nominal self-destruct period, days", minimum=0, unit="d"),
        FieldSpec(
            "battery_days",
            T.REAL,
            "Nominal self-deactivation (battery) life, days",
            minimum=0,
            unit="d",
        ),
        FieldSpec(
            "sd_fail_alpha", T.REAL, "Beta prior on failing to self-destruct: alpha", minimum=0
        ),
        FieldSpec(
            "sd_fail_beta", T.REAL, "Beta prior on failing to self-destruct: beta", minimum=0
        ),
        FieldSpec(
            "residual_alpha",
            T.REAL,
            "Beta prior on still functioning after the battery life: alpha",
            minimum=0,
        ),
        FieldSpec(
            "residual_beta",
            T.REAL,
            "Beta prior on still functioning after the battery life: beta",
            minimum=0,
        ),
        FieldSpec("prior_source", T.TEXT, "Source of the priors"),
        NOTES,
    ),
    rules=(_device_type_rule,),
    natural_key="code",
)

FINDS = Kind(
    name="finds",
    title="Device finds",
    description="Devices found in survey or clearance, with their state (IMAS 09.10).",
    geometry_type="POINT",
    allowed_geometries=PUNCTUAL,
    geometry_required=True,
    fields=(
        FieldSpec("device_type", T.TEXT, "Device type code", required=True),
        FieldSpec(
            "state",
            T.ENUM,
            "State when found",
            required=True,
            choices=("live", "self_destructed_remnant", "deactivated_intact", "unknown"),
        ),
        FieldSpec("found_at", T.DATETIME, "When found (UTC)", required=True),
        FieldSpec("depth_cm", T.REAL, "Depth below surface, cm", minimum=0, unit="cm"),
        FieldSpec("hazard_id", T.UUID, "Hazard it was found in"),
        FieldSpec("emplacement_id", T.UUID, "Emplacement record it belongs to, if known"),
        FieldSpec("activity_id", T.UUID, "Survey or clearance activity"),
        ORG,
        NOTES,
    ),
    rules=(_not_future("found_at"),),
)

EO_REPORTS = Kind(
    name="eo_reports",
    title="Explosive ordnance reports",
    description=(
        "Civilians' reports of explosive ordnance. The record id is a client-made UUID, so a "
        "retried submission never duplicates. Reporter contacts are restricted."
    ),
    geometry_type="POINT",
    allowed_geometries=PUNCTUAL,
    geometry_required=True,
    fields=(
        FieldSpec("reported_at", T.DATETIME, "When reported (UTC)", required=True),
        FieldSpec("description", T.TEXT, "What was seen"),
        FieldSpec("reporter_name", T.TEXT, "Reporter's name", access=Access.FIELD),
        FieldSpec("reporter_contact", T.TEXT, "Reporter's phone or e-mail", access=Access.FIELD),
        FieldSpec(
            "status",
            T.ENUM,
            "Handling status",
            required=True,
            choices=("new", "verified", "dismissed", "linked"),
        ),
        FieldSpec("hazard_id", T.UUID, "Hazard the report was linked to"),
        FieldSpec("public", T.BOOLEAN, "May be shown on the public map"),
        NOTES,
    ),
    rules=(_not_future("reported_at"),),
)

RISK_UPDATES = Kind(
    name="risk_updates",
    title="Learned failure rates",
    description=(
        "Failure-rate beliefs per device type learned from what clearance found (Beta update "
        "of the catalogue prior, pooled over fields), with the evidence they came from. Later "
        "estimates use the newest; the history keeps every earlier one."
    ),
    geometry_type=None,
    allowed_geometries=None,
    geometry_required=False,
    fields=(
        FieldSpec("key", T.TEXT, "device_type:parameter", required=True),
        FieldSpec("device_type", T.TEXT, "Device type code", required=True),
        FieldSpec(
            "parameter",
            T.ENUM,
            "Which failure rate",
            required=True,
            choices=("sd_fail", "residual", "deact_fail"),
        ),
        FieldSpec("prior_alpha", T.REAL, "Prior Beta alpha", required=True, minimum=0),
        FieldSpec("prior_beta", T.REAL, "Prior Beta beta", required=True, minimum=0),
        FieldSpec("successes", T.INTEGER, "Devices that failed (were still live)", minimum=0),
        FieldSpec("trials", T.INTEGER, "Devices counted", minimum=0),
        FieldSpec("posterior_alpha", T.REAL, "Posterior Beta alpha", required=True, minimum=0),
        FieldSpec("posterior_beta", T.REAL, "Posterior Beta beta", required=True, minimum=0),
        FieldSpec("evidence", T.TEXT, "The evidence, as JSON: emplacement records and finds"),
        FieldSpec("assumptions", T.TEXT, "Counting assumptions"),
        FieldSpec("learned_at", T.DATETIME, "When learned (UTC)"),
        FieldSpec(
            "sign_off",
            T.TEXT,
            "Analyst sign-off to learn a rate below a treaty limit: who, when, why",
        ),
    ),
    natural_key="key",
)


def _activity_status(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    if p.get("status") == "completed" and not p.get("completed_on"):
        return [("completed_on", "a completed activity needs completed_on")]
    if p.get("status") in ("planned", "ongoing") and p.get("completed_on"):
        return [("completed_on", f"a {p['status']} activity cannot have completed_on")]
    if p.get("status") in ("ongoing", "completed") and not p.get("started_on"):
        return [("started_on", f"a {p['status']} activity needs started_on")]
    return []


ACTIVITY_TYPES = ("non_technical_survey", "technical_survey", "clearance", "qa_qc")
METHODS = (
    "manual",
    "mechanical",
    "animal_detection",
    "remote_sensing",
    "battle_area_clearance",
    "eod",
    "other",
)

ACTIVITIES = Kind(
    name="activities",
    title="Survey and clearance activities",
    description=(
        "Non-technical survey, technical survey, clearance and QA/QC on one hazard "
        "(IMAS 07.11, 08.10, 08.20, 09.10). Geometry: the worksite, when recorded."
    ),
    geometry_type="MULTIPOLYGON",
    allowed_geometries=POLYGONAL,
    geometry_required=False,
    fields=(
        FieldSpec("hazard_id", T.UUID, "The hazard worked on", required=True),
        FieldSpec(
            "activity_type",
            T.ENUM,
            "non_technical_survey, technical_survey, clearance or qa_qc",
            required=True,
            choices=ACTIVITY_TYPES,
        ),
        FieldSpec(
            "status",
            T.ENUM,
            "planned, ongoing or completed",
            required=True,
            choices=("planned", "ongoing", "completed"),
        ),
        FieldSpec("organisation", T.TEXT, "Operator carrying it out", required=True),
        FieldSpec("team", T.TEXT, "Team or unit"),
        FieldSpec("method", T.ENUM_LIST, "Methods used", choices=METHODS),
        FieldSpec("depth_cm", T.REAL, "Clearance or search depth, cm", minimum=0, unit="cm"),
        FieldSpec("planned_start", T.DATE, "Planned start"),
        FieldSpec("started_on", T.DATE, "Date started"),
        FieldSpec("completed_on", T.DATE, "Date completed"),
        FieldSpec("reference", T.TEXT, "Task or tasking-order reference"),
        NOTES,
    ),
    rules=(
        _activity_status,
        _order(("started_on", "completed_on")),
        _not_future("started_on", "completed_on"),
    ),
)

RELEASE_TYPES = ("cancelled", "reduced", "cleared")
# which activity may release land in which way (IMAS 07.11)
RELEASE_BY = {
    "cancelled": "non_technical_survey",
    "reduced": "technical_survey",
    "cleared": "clearance",
}

RELEASES = Kind(
    name="releases",
    title="Land release",
    description=(
        "Land released from a hazard (IMAS 07.11): cancelled by non-technical survey, reduced "
        "by technical survey, cleared by clearance. The hazard's remaining area is derived "
        "from these, never typed in."
    ),
    geometry_type="MULTIPOLYGON",
    allowed_geometries=POLYGONAL,
    geometry_required=True,
    fields=(
        FieldSpec("activity_id", T.UUID, "The activity that released the land", required=True),
        FieldSpec("hazard_id", T.UUID, "The hazard (taken from the activity)", derived=True),
        FieldSpec(
            "release_type",
            T.ENUM,
            "cancelled (NTS), reduced (TS) or cleared (clearance)",
            required=True,
            choices=RELEASE_TYPES,
        ),
        FieldSpec("released_on", T.DATE, "Date released", required=True),
        FieldSpec("organisation", T.TEXT, "Operator"),
        FieldSpec("reference", T.TEXT, "Release or completion report reference"),
        NOTES,
        FieldSpec(
            "area_m2",
            T.REAL,
            "Geodesic area of the polygon as recorded (WGS 84), computed by demine",
            derived=True,
            unit="m2",
        ),
    ),
    rules=(_not_future("released_on"),),
)

ACCIDENTS = Kind(
    name="accidents",
    title="Explosive ordnance accidents",
    description=(
        "Accidents and incidents with explosive ordnance (IMAS 10.60): demining or civilian. "
        "People hurt are victims records (restricted); casualty figures are published only as "
        "aggregates."
    ),
    geometry_type="POINT",
    allowed_geometries=PUNCTUAL,
    geometry_required=True,
    fields=(
        FieldSpec(
            "occurred_at",
            T.DATETIME,
            "When it happened (UTC); a legacy record may give a year-month, a year or unknown",
            required=True,
            partial=True,
            unknown=True,
        ),
        FieldSpec(
            "accident_type",
            T.ENUM,
            "demining (during survey or clearance), civilian or unknown",
            required=True,
            choices=("demining", "civilian", "unknown"),
        ),
        FieldSpec("device_category", T.ENUM, "Category of device", choices=CATEGORIES),
        FieldSpec("device_type", T.TEXT, "Device type code, if known"),
        FieldSpec("hazard_id", T.UUID, "Hazard it happened in or near"),
        # who was working there (the operator, the activity and so its team) is not public:
        # with the place and time it points at the people hurt (docs/privacy.md)
        FieldSpec(
            "activity_id",
            T.UUID,
            "Activity under way (demining accidents)",
            access=Access.FIELD,
        ),
        FieldSpec(
            "organisation", T.TEXT, "Organisation responsible or reporting", access=Access.FIELD
        ),
        FieldSpec("admin_area", T.TEXT, "Administrative area"),
        FieldSpec("description", T.TEXT, "What happened", access=Access.FIELD),
        FieldSpec("investigation", T.TEXT, "Investigation findings", access=Access.ANALYST),
        FieldSpec("notes", T.TEXT, "Free text", access=Access.FIELD),
    ),
    rules=(_not_future("occurred_at"),),
)

VICTIMS = Kind(
    name="victims",
    title="Victims",
    description=(
        "People killed or injured in an accident (IMAS 10.60). Personal data: readable only "
        "with the victim_assistance role; everyone else sees aggregates, counts under 5 shown "
        "as '<5'."
    ),
    geometry_type=None,
    allowed_geometries=None,
    geometry_required=False,
    fields=(
        FieldSpec("accident_id", T.UUID, "The accident", required=True),
        FieldSpec("name", T.TEXT, "Name", access=Access.VICTIM_ASSISTANCE),
        FieldSpec(
            "sex",
            T.ENUM,
            "female, male or unknown",
            required=True,
            choices=("female", "male", "unknown"),
            access=Access.VICTIM_ASSISTANCE,
        ),
        FieldSpec(
            "age",
            T.INTEGER,
            "Age in years",
            minimum=0,
            maximum=120,
            access=Access.VICTIM_ASSISTANCE,
        ),
        FieldSpec(
            "outcome",
            T.ENUM,
            "injured or killed",
            required=True,
            choices=("injured", "killed"),
            access=Access.VICTIM_ASSISTANCE,
        ),
        FieldSpec(
            "victim_type",
            T.ENUM,
            "civilian, deminer, military or unknown",
            choices=("civilian", "deminer", "military", "unknown"),
            access=Access.VICTIM_ASSISTANCE,
        ),
        FieldSpec(
            "activity_at_time",
            T.ENUM,
            "What the person was doing",
            choices=(
                "demining",
                "farming",
                "travelling",
                "collecting",
                "playing",
                "tampering",
                "household",
                "other",
                "unknown",
            ),
            access=Access.VICTIM_ASSISTANCE,
        ),
        FieldSpec("injuries", T.TEXT, "Injuries", access=Access.VICTIM_ASSISTANCE),
        FieldSpec(
            "contact", T.TEXT, "Contact of the person or family", access=Access.VICTIM_ASSISTANCE
        ),
        FieldSpec(
            "assistance", T.TEXT, "Assistance needed or given", access=Access.VICTIM_ASSISTANCE
        ),
        FieldSpec("notes", T.TEXT, "Free text", access=Access.VICTIM_ASSISTANCE),
    ),
)

EORE_SESSIONS = Kind(
    name="eore_sessions",
    title="Risk education sessions",
    description=(
        "Explosive ordnance risk education (EORE) sessions: place, date, organisation and "
        "beneficiaries by sex and age (girls and boys under 18, women and men)."
    ),
    geometry_type="POINT",
    allowed_geometries=PUNCTUAL,
    geometry_required=True,
    fields=(
        FieldSpec(
            "held_on",
            T.DATE,
            "Date held; a legacy record may give a year-month or a year",
            required=True,
            partial=True,
        ),
        FieldSpec("organisation", T.TEXT, "Organisation", required=True),
        FieldSpec("place", T.TEXT, "Place (settlement, school, ...)"),
        FieldSpec(
            "delivery",
            T.ENUM,
            "How it was delivered",
            choices=("in_person", "online", "mass_media", "other"),
        ),
        FieldSpec("girls", T.INTEGER, "Beneficiaries: girls (under 18)", minimum=0),
        FieldSpec("boys", T.INTEGER, "Beneficiaries: boys (under 18)", minimum=0),
        FieldSpec("women", T.INTEGER, "Beneficiaries: women (18 and over)", minimum=0),
        FieldSpec("men", T.INTEGER, "Beneficiaries: men (18 and over)", minimum=0),
        FieldSpec("admin_area", T.TEXT, "Administrative area"),
        NOTES,
    ),
    rules=(_not_future("held_on"),),
)

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        HAZARDS,
        EMPLACEMENTS,
        DEVICE_TYPES,
        FINDS,
        EO_REPORTS,
        RISK_UPDATES,
        ACTIVITIES,
        RELEASES,
        ACCIDENTS,
        VICTIMS,
        EORE_SESSIONS,
    )
}

_LAYER_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")  # whole name: fullmatch
RESERVED = frozenset(KINDS) | {"history", "layers"}


def check_layer_name(name: str) -> str:
    if not _LAYER_NAME.fullmatch(name) or name.startswith(
        ("gpkg_", "rtree_", "demine_", "sqlite_")
    ):
        raise ValueError(
            f"layer name {name!r} must be lower case letters, digits and _, start with a letter, "
            "and not start with gpkg_, rtree_, demine_ or sqlite_"
        )
    if name in RESERVED:
        raise ValueError(f"layer name {name!r} is taken by a record kind")
    return name


def layer_kind(
    name: str,
    fields: tuple[FieldSpec, ...],
    geometry_type: str = "GEOMETRY",
    title: str | None = None,
) -> Kind:
    """A reference layer: any vector data a user imports for context."""
    return Kind(
        name=check_layer_name(name),
        title=title or name,
        description="Reference layer",
        geometry_type=geometry_type,
        allowed_geometries=None,
        geometry_required=False,
        fields=fields,
        is_layer=True,
    )


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(
            f"unknown kind {name!r}: expected one of {', '.join(KINDS)} or layer:NAME"
        ) from None
