"""Learning the failure rates from clearance: each device type's posterior from the evidence
of cleared land (:mod:`demine.services.risk.evidence`), floored at a treaty limit unless an
analyst signed off, stored as ``risk_updates`` records through the one write path."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from demine.errors import Fault, NotFound, ValidationError
from demine.model.devices import BetaPrior
from demine.model.schema import Record, now_utc
from demine.services import records
from demine.services.risk.evidence import evidence_dict, gather_evidence
from demine.services.risk.inputs import device_types, lifecycles_prior
from demine.store.base import Store

ACTOR = "demine risk"
ORIGIN = "risk"  # the store refuses any status change from this origin


@dataclass
class Learned:
    device_type: str
    parameter: str
    prior: BetaPrior
    posterior: BetaPrior  # the one in force (floored at a treaty limit, or the prior reverted)
    successes: int
    trials: int
    evidence: list[Any]
    update: BetaPrior | None = None  # the pooled update itself, before any floor
    floored: bool = False  # a treaty-limit type's update went below the limit: moved up to it
    reverted: bool = False  # its evidence is gone: back to the prior
    fields: int = 0
    notes: list[str] = field(default_factory=list)
    sign_off: str | None = None  # an analyst's recorded sign-off to go below a treaty limit

    def to_dict(self) -> dict[str, Any]:
        return {
            "device_type": self.device_type,
            "parameter": self.parameter,
            "prior": self.prior.to_dict(),
            "posterior": self.posterior.to_dict(),
            "update": None if self.update is None else self.update.to_dict(),
            "floored": self.floored,
            "reverted": self.reverted,
            "successes": self.successes,
            "trials": self.trials,
            "fields": self.fields,
            "notes": self.notes,
            "sign_off": self.sign_off,
            "evidence": [evidence_dict(e) for e in self.evidence],
        }


FLOOR_NOTE = (
    "floored at the treaty limit: the update (mean {m:.4g}) is below {what} of a treaty-limit "
    "type; moved up to mean {pm:.4g} (an analyst's sign-off, 'demine risk learn "
    "--accept-below-limit TYPE --reason ...', lets it go below)"
)
REVERT_NOTE = (
    "reverted to the prior: the evidence is gone (hazard reopened, release or find withdrawn, "
    "or the land was never cleared)"
)


def learn(
    store: Store,
    *,
    accept_below_limit: Sequence[str] = (),
    reason: str | None = None,
    withdraw_sign_off: Sequence[str] = (),
    actor: str = ACTOR,
    role: str | None = None,
) -> list[Learned]:
    """Update the failure-rate beliefs from all the evidence, from scratch, and store each
    posterior with the evidence it came from (a new revision when it changed; the history
    keeps the earlier). A stored posterior whose evidence is gone is reverted to the prior (a
    new revision with no trials, which estimates do not use).

    A treaty-limit type's learned mean never goes below the limit unless its code is in
    ``accept_below_limit`` (an analyst's sign-off, with ``reason``, recorded with the update
    and kept for later runs until withdrawn with ``withdraw_sign_off``).

    The updates go through the one write path (:func:`demine.services.records.write_many`):
    the rules of any write, ``role``'s right to write risk_updates (None: not checked, as
    for the demo) and the history naming ``actor``. All or nothing: one
    transaction, so a run that fails stores nothing; a role that may not write is refused
    whether or not anything changed."""
    from demine.ids import uuid7
    from demine.risk import COUNTING_ASSUMPTIONS, pool
    from demine.risk.learn import floor_mean

    types = device_types(store)
    faults = [
        Fault(f"unknown device type {c!r}", field="--accept-below-limit")
        for c in accept_below_limit
        if c not in types
    ]
    if accept_below_limit and not (reason and reason.strip()):
        faults.append(Fault("a sign-off needs a reason", field="--reason"))
    if faults:
        raise ValidationError("invalid sign-off", faults)
    prior_lcs = lifecycles_prior(store)
    evidence = gather_evidence(store)
    groups: dict[tuple[str, str], list[Any]] = {}
    for ev in evidence:
        groups.setdefault((ev.device_type, ev.parameter), []).append(ev)
    existing = {r.properties["key"]: r for r in store.list("risk_updates")}
    learned: list[Learned] = []
    batch: list[Record] = []
    at = now_utc()
    signed: dict[str, str] = {}
    for r in existing.values():
        so = r.properties.get("sign_off")
        if so and r.properties["device_type"] not in withdraw_sign_off:
            signed[r.properties["device_type"]] = so
    for code in accept_below_limit:
        signed[code] = f"{actor} at {at}: {reason.strip() if reason else ''}"

    def prior_of(code: str, param: str) -> BetaPrior | None:
        lc = prior_lcs.get(code)
        if lc is None:
            return None
        prior: BetaPrior | None = getattr(lc, param)
        return prior

    def put(props: dict[str, Any]) -> None:
        old = existing.get(props["key"])
        if old is not None and {
            k_: v for k_, v in old.properties.items() if k_ != "learned_at" and v is not None
        } == {k_: v for k_, v in props.items() if v is not None}:
            return  # nothing new: no new revision
        props["learned_at"] = at
        rid = old.id if old is not None else uuid7()  # a new revision of the key's record
        batch.append(Record(kind="risk_updates", id=rid, properties=props))

    pooled = {
        key: pool(prior, evs)
        for key, evs in groups.items()
        if (prior := prior_of(*key)) is not None
    }
    for (code, param), pl in sorted(pooled.items()):
        evs = groups[(code, param)]
        lc = prior_lcs[code]
        prior = pl.prior
        post, floored, what = pl.posterior, False, ""
        sign_off = signed.get(code) if lc.treaty_limits else None
        if lc.treaty_limits and sign_off is None:
            if param == "deact_fail":
                sd = pooled.get((code, "sd_fail"))
                sd_post = sd.posterior if sd is not None else lc.sd_fail
                sd_mean = max(sd_post.mean, lc.p_sd_mean) if sd_post is not None else lc.p_sd_mean
                limit_res = types[code].residual
                need = min(
                    (limit_res.mean if limit_res is not None else lc.p_res_mean) / sd_mean,
                    0.999,
                )
                what = "the residual limit (p_sd x q)"
            else:
                need = prior.mean
                what = f"the prior mean {prior.mean:.4g}"
            if post.mean < need:
                post, floored = floor_mean(post, need), True
                c0 = prior.alpha + prior.beta
                if math.isclose(need, prior.mean) and math.isclose(post.alpha + post.beta, c0):
                    post = prior  # floored at the prior itself: store it exactly
        learned.append(
            Learned(
                code,
                param,
                prior,
                post,
                pl.successes,
                pl.trials,
                evs,
                pl.posterior,
                floored,
                fields=pl.fields,
                notes=list(pl.notes),
                sign_off=sign_off,
            )
        )
        notes = list(pl.notes) + list(COUNTING_ASSUMPTIONS)
        if floored:
            notes.insert(0, FLOOR_NOTE.format(m=pl.posterior.mean, what=what, pm=post.mean))
        put(
            {
                "key": f"{code}:{param}",
                "device_type": code,
                "parameter": param,
                "prior_alpha": prior.alpha,
                "prior_beta": prior.beta,
                "successes": pl.successes,
                "trials": pl.trials,
                "posterior_alpha": post.alpha,
                "posterior_beta": post.beta,
                "evidence": orjson.dumps([evidence_dict(e) for e in evs]).decode(),
                "assumptions": "\n".join(notes),
                "sign_off": sign_off,
            }
        )
    for key, old in sorted(existing.items()):
        code, param = old.properties["device_type"], old.properties["parameter"]
        if (code, param) in pooled:
            continue
        if (old.properties.get("trials") or 0) == 0:
            continue  # already reverted
        prior = prior_of(code, param) or BetaPrior(
            old.properties["prior_alpha"], old.properties["prior_beta"]
        )
        learned.append(Learned(code, param, prior, prior, 0, 0, [], None, False, True))
        put(
            {
                "key": key,
                "device_type": code,
                "parameter": param,
                "prior_alpha": prior.alpha,
                "prior_beta": prior.beta,
                "successes": 0,
                "trials": 0,
                "posterior_alpha": prior.alpha,
                "posterior_beta": prior.beta,
                "evidence": "[]",
                "assumptions": "\n".join([REVERT_NOTE, *COUNTING_ASSUMPTIONS]),
                "sign_off": None,
            }
        )
    records.write_many(
        store,
        store.kind("risk_updates"),
        batch,
        ctx=records.WriteContext(role=role, actor=actor, reason="learned from clearance finds"),
        origin=ORIGIN,
    )
    return learned


def learned_history(store: Store, code: str, parameter: str) -> list[dict[str, Any]]:
    """Every posterior ever stored for a device type's parameter, oldest first."""
    recs = list(store.list("risk_updates", where={"key": f"{code}:{parameter}"}))
    if not recs:
        raise NotFound(f"nothing learned yet for {code} {parameter}")
    return [
        {
            "revision": h.revision,
            "at": h.at,
            "posterior_alpha": h.state.properties["posterior_alpha"],
            "posterior_beta": h.state.properties["posterior_beta"],
        }
        for h in store.history(recs[0].id)
        if h.state is not None
    ]
