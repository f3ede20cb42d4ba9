"""The review page (``/review``, issue 13) in a real browser (Playwright + Debian's chromium,
headless) against a live server, on both backends: a reviewer signs in with an API token,
sees the queue, opens a submission and its side-by-side diff and map, approves one (the record
is then in the store), approves another as an update of an existing record, rejects one with a
reason (without one it is refused, the message shown), reads the page in Ukrainian; a wrong
token is told so; an operator sees its organisation's queue only and the server's 403 when it
tries to decide; the page fits a 390 px phone and breaks no rule of its CSP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from live import serve, wait_for
from sites import module_store
from test_attachments import jpeg_with_exif
from test_web_page import ARTIFACTS

TIMEOUT = 30_000
X, Y = 37.62, 48.33  # a stored hazard in Donetsk oblast; submissions next to it
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def _box(x: float, y: float, d: float = 0.004) -> dict[str, Any]:
    ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def _hazard(name: str, x: float, y: float) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"hazard_type": "CHA", "status": "open", "name": name},
        "geometry": _box(x, y),
    }


@dataclass
class Site:
    url: str
    location: str
    tokens: dict[str, str]
    stored: str  # the hazard on record
    subs: dict[str, str] = field(default_factory=dict)  # name -> submission id

    def store(self) -> Any:
        from demine.store.open import open_store

        return open_store(self.location)


USERS = {
    "o_halo": ("operator", "HALO"),
    "o_mag": ("operator", "MAG"),
    "rev": ("reviewer", None),
    "adm": ("admin", None),
}


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with module_store(
        request.param,
        tmp_path_factory,
        "web_review",
        organisations={"HALO": "The HALO Trust", "MAG": "Mines Advisory Group"},
        users=USERS,
    ) as (location, tokens):
        yield from _review_site(location, tokens)


def _review_site(location: str, tokens: dict[str, str]) -> Iterator[Site]:
    """The stored hazard and a submission for each test, then the live server."""
    from demine.api.app import create_app

    app = create_app(location)
    h = {n: {"Authorization": f"Bearer {t}"} for n, t in tokens.items()}
    with TestClient(app) as c:
        r = c.post(
            "/ogc/collections/hazards/items", json=_hazard("Old name", X, Y), headers=h["adm"]
        )
        assert r.status_code == 201, r.text
        stored = r.json()["id"]
        r = c.post(
            f"/api/v1/records/hazards/{stored}/attachments?filename=site.jpg",
            content=jpeg_with_exif(),
            headers={**h["adm"], "Content-Type": "image/jpeg"},
        )
        assert r.status_code == 201, r.text
        subs: dict[str, str] = {}

        def sub(name: str, who: str, method: str, url: str, **kw: Any) -> None:
            r = c.request(method, url, headers={**h[who], **kw.pop("headers", {})}, **kw)
            assert r.status_code == 202, r.text
            subs[name] = r.json()["id"]

        sub(
            "approve",
            "o_halo",
            "POST",
            "/ogc/collections/hazards/items",
            json=_hazard("North field", X + 0.02, Y + 0.002),
        )
        etag = c.get(f"/ogc/collections/hazards/items/{stored}", headers=h["o_halo"]).headers[
            "etag"
        ]
        sub(
            "update",
            "o_halo",
            "PATCH",
            f"/ogc/collections/hazards/items/{stored}",
            json={"properties": {"name": "New name"}},
            headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"},
        )
        sub(
            "reject",
            "o_mag",
            "POST",
            "/ogc/collections/hazards/items",
            json=_hazard("Doubtful report", X + 0.02, Y),
        )
        sub(
            "as_update",
            "o_halo",
            "POST",
            "/ogc/collections/hazards/items",
            json=_hazard("Old name, surveyed again", X, Y),
        )
        sub(
            "return",
            "o_halo",
            "POST",
            "/ogc/collections/hazards/items",
            json=_hazard("Nameless", X - 0.02, Y),
        )
        sub(
            "merge",
            "o_mag",
            "POST",
            "/ogc/collections/hazards/items",
            json=_hazard("Old name (duplicate)", X + 0.0005, Y),
        )
        r = c.post(  # the field photo of the duplicate, on its submission
            f"/api/v1/submissions/{subs['merge']}/attachments?filename=field.jpg",
            content=jpeg_with_exif(),
            headers={**h["o_mag"], "Content-Type": "image/jpeg"},
        )
        assert r.status_code == 201, r.text
    with serve(create_app(location)) as url:
        yield Site(url, location, tokens, stored, subs)


class Tab:
    """A browser context on the page, watching for CSP violations and script errors."""

    def __init__(self, browser: Any, site: Site, **context: Any) -> None:
        opts = {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB", **context}
        self.context = browser.new_context(**opts)
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.site = site

    def open(self) -> Any:
        resp = self.page.goto(self.site.url + "/review")
        assert resp is not None and resp.status == 200
        policy = resp.headers["content-security-policy"]
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
        wait_for(self.page, "document.body.dataset.ready === 'true'", TIMEOUT)
        return self.page

    def sign_in(self, user: str) -> Any:
        pg = self.page
        pg.fill("#token", self.site.tokens[user])
        pg.click("#signin-button")
        wait_for(pg, "document.body.dataset.signedIn === 'true'", TIMEOUT)
        return pg

    def open_sub(self, sid: str) -> Any:
        pg = self.page
        pg.click(f"button[data-sid='{sid}']")
        wait_for(pg, f"document.body.dataset.detail === '{sid}'", TIMEOUT)
        return pg

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"web-review-{name}.png"), full_page=True)

    def clean(self) -> None:
        assert self.page.evaluate("window.__csp") == []
        assert not self.errors, self.errors

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any, site: Site) -> Iterator[Tab]:
    t = Tab(browser, site)
    yield t
    t.close()


def _queue_ids(pg: Any) -> list[str]:
    ids: list[str] = pg.evaluate(
        "[...document.querySelectorAll('#queue-body tr')].map(r => r.dataset.sid)"
    )
    return ids


def _announced(pg: Any, text: str) -> str:
    got: str = wait_for(
        pg,
        f"(() => {{ const t = document.getElementById('announce').textContent;"
        f" return t.includes({text!r}) ? t : ''; }})()",
        TIMEOUT,
    )
    return got


def _sub(site: Site, sid: str) -> dict[str, Any]:
    s = site.store()
    try:
        out: dict[str, Any] = s.submissions(sid=sid)[0]
        return out
    finally:
        s.close()


def test_a_wrong_token_is_told_and_never_kept(tab: Tab) -> None:
    pg = tab.open()
    assert pg.locator("#workspace").is_hidden()
    pg.click("#signin-button")  # nothing pasted
    assert pg.inner_text("#signin-error") == "Paste a token first."
    pg.fill("#token", "not-a-token")
    pg.click("#signin-button")
    wait_for(pg, "document.getElementById('signin-error').textContent !== 'Paste a token first.'")
    msg = pg.inner_text("#signin-error")
    assert msg.startswith("The token was not accepted:"), msg
    assert "unknown, expired or revoked token" in msg
    assert pg.get_attribute("#token", "aria-invalid") == "true"
    assert pg.evaluate("sessionStorage.length") == 0
    assert pg.locator("#workspace").is_hidden()
    tab.clean()


def test_a_reviewer_reviews(tab: Tab, site: Site) -> None:
    pg = tab.open()
    tab.sign_in("rev")
    # the token: in this tab's session storage only, never in the address
    assert pg.evaluate("sessionStorage.getItem('demine.review.token')") == site.tokens["rev"]
    assert site.tokens["rev"] not in pg.url
    assert pg.evaluate("localStorage.getItem('demine.review.token')") is None
    _announced(pg, "Signed in.")
    queue = _queue_ids(pg)
    for name in ("approve", "update", "reject"):
        assert site.subs[name] in queue, name
    row = pg.locator(f"#queue-body tr[data-sid='{site.subs['update']}']").inner_text()
    assert "HALO" in row and "Hazardous area" in row and "Change" in row and "Submitted" in row

    # the queue is keyboard reachable: Tab from the state filter reaches a submission
    pg.focus("#state-filter")
    pg.keyboard.press("Tab")
    assert pg.evaluate("document.activeElement.dataset.sid") == queue[0]

    # an update: current and proposed side by side, the changed field highlighted
    tab.open_sub(site.subs["update"])
    name = pg.locator("#diff tr[data-field='name']")
    assert name.get_attribute("data-changed") == "true"
    assert name.locator("td[data-side='current']").inner_text() == "Old name"
    assert name.locator("td[data-side='proposed']").inner_text() == "New name"
    status = pg.locator("#diff tr[data-field='status']")
    assert status.get_attribute("data-changed") == "false"
    assert "rv-changed" in (name.get_attribute("class") or "")
    # the stored record's photo (its name and EXIF for the roles that read originals)
    assert pg.locator("#attachments li[data-attachment]").count() == 1
    assert pg.inner_text("#events").startswith("Submitted — o_halo")

    # a new record: the map shows it and the stored hazard next to it
    tab.open_sub(site.subs["approve"])
    assert pg.locator("#diff tr[data-field='name'] td[data-side='current']").inner_text() == "—"
    drawn = wait_for(
        pg,
        f"window.review.drawn && window.review.drawn.sid === '{site.subs['approve']}'"
        " && window.review.drawn",
        TIMEOUT,
    )
    assert drawn["submission"] == 1 and drawn["around"] >= 1, drawn
    wait_for(
        pg,
        "window.review.map.loaded() && window.review.map.queryRenderedFeatures("
        "{layers: ['submission-fill']}).length >= 1",
        TIMEOUT,
    )
    assert pg.inner_text("#candidates") == "No possible duplicates found."
    tab.shot("detail")
    assert "null" not in pg.inner_text("#detail") and "undefined" not in pg.inner_text("#detail")
    pg.fill("#reason", "checked against the survey report")
    pg.click("#approve")
    msg = _announced(pg, "approved")
    sub = _sub(site, site.subs["approve"])
    assert sub["state"] == "approved"
    s = site.store()
    try:
        names = {r.properties.get("name"): r.id for r in s.list("hazards")}
    finally:
        s.close()
    assert "North field" in names and names["North field"] in msg
    assert pg.inner_text("#decide-heading") == "Decided: Approved"
    assert pg.locator("#approve").is_disabled()
    # the queue refreshed: the approved one left the "Submitted" list
    wait_for(pg, f"!document.querySelector(\"#queue-body tr[data-sid='{site.subs['approve']}']\")")

    # a new record that is already recorded: approved as an update of the stored one
    tab.open_sub(site.subs["as_update"])
    assert pg.locator("#approve-update").is_disabled()
    pg.fill("#target", site.stored)
    pg.click("#approve-update")
    _announced(pg, f"approved as an update of record {site.stored}")
    s = site.store()
    try:
        assert s.get("hazards", site.stored).properties["name"] == "Old name, surveyed again"
    finally:
        s.close()

    # reject: no reason, no button; a blank one is refused by the server, its message shown
    tab.open_sub(site.subs["reject"])
    assert pg.locator("#reject").is_disabled() and pg.locator("#return").is_disabled()
    pg.fill("#reason", "   ")
    assert pg.locator("#reject").is_enabled()
    pg.click("#reject")
    wait_for(pg, "document.getElementById('decide-error').textContent !== ''")
    assert pg.inner_text("#decide-error") == (
        "Refused: a rejection needs a reason (reason: give why (--reason))"
    )
    assert _sub(site, site.subs["reject"])["state"] == "submitted"
    pg.fill("#reason", "no such field at these coordinates")
    pg.click("#reject")
    _announced(pg, "rejected")
    sub = _sub(site, site.subs["reject"])
    assert sub["state"] == "rejected"
    events = pg.inner_text("#events")
    assert "Rejected — rev" in events and "no such field at these coordinates" in events
    assert pg.inner_text("#decide-error") == ""

    # return for correction, with a reason
    tab.open_sub(site.subs["return"])
    pg.fill("#reason", "name the village")
    pg.click("#return")
    _announced(pg, "returned for correction")
    assert _sub(site, site.subs["return"])["state"] == "returned"
    assert pg.inner_text("#decide-heading") == "Decided: Returned for correction"
    tab.clean()


def test_every_string_of_the_page_in_both_languages() -> None:
    import json
    import re
    from pathlib import Path

    from demine.model.kinds import KINDS
    from demine.services.submitting import ACTIONS, STATES

    web = Path(__file__).resolve().parent.parent / "src" / "demine" / "web"
    en = json.loads((web / "i18n" / "en.json").read_text(encoding="utf-8"))
    uk = json.loads((web / "i18n" / "uk.json").read_text(encoding="utf-8"))
    assert set(en) == set(uk)
    html = (web / "review.html").read_text(encoding="utf-8")
    js = (web / "review.js").read_text(encoding="utf-8")
    used = set(re.findall(r'data-i18n="(\w+)"', html))
    used |= set(re.findall(r':(\w+)"', html))
    used |= set(re.findall(r'\bt\("(\w+)"', js))
    used |= {f"review_state_{s}" for s in STATES} | {f"review_action_{a}" for a in ACTIONS}
    used |= {f"review_kind_{k}" for k in KINDS}
    assert len(used) > 80
    missing = sorted(k for k in used if k not in en)
    assert not missing, f"keys used but not in the i18n files: {missing}"
    # Ukrainian strings are Ukrainian (not the English left in place)
    same = sorted(k for k in used if k.startswith("review_") and en[k] == uk[k])
    assert same == [], same


def test_the_page_in_ukrainian(tab: Tab, site: Site) -> None:
    pg = tab.open()
    pg.click(".lang-btn[data-lang='uk']")
    wait_for(pg, "document.body.dataset.lang === 'uk'")
    assert pg.inner_text("#signin-heading") == "Вхід"
    assert pg.inner_text("label[for='token']") == "API-токен"
    tab.sign_in("rev")
    pg.select_option("#state-filter", "")
    wait_for(pg, "document.querySelectorAll('#queue-body tr').length >= 4")
    head = pg.inner_text("#queue thead")
    for word in ("Подання", "Стан", "Організація", "Вид", "Дія", "Час подання", "Якість"):
        assert word in head, word
    tab.open_sub(site.subs["update"])
    assert pg.inner_text("#detail-heading") == f"Подання {site.subs['update']}"
    assert "Небезпечна територія" in pg.inner_text("#detail-meta")
    assert pg.inner_text("#diff thead").split() == ["Поле", "Чинний", "запис", "Запропоновано"]
    assert pg.inner_text("#approve") == "Затвердити"
    assert pg.inner_text("#reject") == "Відхилити"
    assert pg.inner_text("#return") == "Повернути на доопрацювання"
    assert pg.inner_text("#merge") == "Об'єднати дублікати"
    assert pg.inner_text("#tab-report") == "Звіт"
    tab.shot("uk")
    assert pg.evaluate("document.documentElement.lang") == "uk"
    # the choice is the public map's too
    assert pg.evaluate("localStorage.getItem('demine.lang')") == "uk"
    tab.clean()


def test_an_operator_sees_its_own_queue_and_the_servers_refusal(tab: Tab, site: Site) -> None:
    pg = tab.open()
    tab.sign_in("o_mag")
    pg.select_option("#state-filter", "")
    wait_for(pg, "document.querySelectorAll('#queue-body tr').length > 0")
    orgs = pg.evaluate(
        "[...document.querySelectorAll('#queue-body tr')].map(r => r.children[2].textContent)"
    )
    assert set(orgs) == {"MAG"}, orgs
    queue = _queue_ids(pg)
    assert site.subs["merge"] in queue
    for name in ("approve", "update", "as_update"):  # HALO's
        assert site.subs[name] not in queue
    tab.open_sub(site.subs["merge"])
    pg.click("#approve")
    wait_for(pg, "document.getElementById('decide-error').textContent !== ''")
    # the server's 403, as it words it (the page decides nothing itself)
    refused = pg.inner_text("#decide-error")
    assert refused.startswith("Refused: the operator role cannot "), refused
    assert "that needs the reviewer or admin role" in refused
    pg.fill("#reason", "looks wrong")
    pg.evaluate("document.getElementById('decide-error').textContent = ''")
    pg.click("#reject")
    wait_for(pg, "document.getElementById('decide-error').textContent !== ''")
    refused = pg.inner_text("#decide-error")
    assert refused.startswith("Refused: the operator role cannot "), refused
    assert _sub(site, site.subs["merge"])["state"] == "submitted"
    tab.clean()


def test_an_attachments_exif_location(tab: Tab, site: Site) -> None:
    """The reviewer sees where a photo was taken: the stored record's, and the submission's
    own (the public copy of either carries no EXIF: tests/test_attachments.py)."""
    pg = tab.open()
    tab.sign_in("rev")
    tab.open_sub(site.subs["update"])
    item = pg.locator("#attachments li[data-attachment]")
    assert item.count() == 1
    text = item.inner_text()
    assert text.startswith("site.jpg") and "of the current record" in text
    assert (
        item.locator("[data-exif='location']").inner_text() == "Taken at 48.50000, 37.90000 (EXIF)"
    )
    drawn = wait_for(pg, "window.review.drawn", TIMEOUT)
    assert drawn["exif"] == 1 and drawn["sid"] == site.subs["update"], drawn
    tab.open_sub(site.subs["merge"])
    item = pg.locator("#attachments li[data-attachment]")
    assert item.count() == 1
    text = item.inner_text()
    assert text.startswith("field.jpg") and "of the submission" in text
    assert (
        item.locator("[data-exif='location']").inner_text() == "Taken at 48.50000, 37.90000 (EXIF)"
    )
    tab.clean()


def _report_status(site: Site) -> int:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        site.url + "/api/v1/submissions/report",
        headers={"Authorization": f"Bearer {site.tokens['rev']}"},
    )
    try:
        with urllib.request.urlopen(req) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_the_report_tab(tab: Tab, site: Site) -> None:
    pg = tab.open()
    tab.sign_in("rev")
    pg.click("#tab-report")
    wait_for(pg, "document.body.dataset.report !== undefined")
    assert pg.locator("#panel-queue").is_hidden() and pg.locator("#panel-report").is_visible()
    assert pg.get_attribute("#tab-report", "aria-selected") == "true"
    status = _report_status(site)
    assert pg.evaluate("document.body.dataset.report") == str(status)
    if status == 404:  # the report is not on this server yet
        assert pg.inner_text("#report") == "The report is not available on this server."
    else:
        assert status == 200
        rows = pg.evaluate(
            "[...document.querySelectorAll('#report tr[data-org]')].map(r => r.dataset.org)"
        )
        assert {"HALO", "MAG"} <= set(rows)
    # arrows move between the tabs
    pg.focus("#tab-report")
    pg.keyboard.press("ArrowLeft")
    assert pg.evaluate("document.activeElement.id") == "tab-queue"
    assert pg.locator("#panel-queue").is_visible()
    tab.clean()


def test_on_a_phone(browser: Any, site: Site) -> None:
    t = Tab(
        browser,
        site,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    try:
        pg = t.open()
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        t.sign_in("rev")
        pg.select_option("#state-filter", "")
        t.open_sub(site.subs["update"])
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        box = pg.locator("#approve").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        t.shot("phone")
        t.clean()
    finally:
        t.close()


def test_candidates_are_listed_and_drawn(tab: Tab, site: Site) -> None:
    """The submission's ``candidates`` (i13-merge: possible duplicates of the stored records)
    are listed with their distance, drawn on the map, and one can be picked as the target."""
    pg = tab.open()
    tab.sign_in("rev")
    pg.select_option("#state-filter", "")
    tab.open_sub(site.subs["merge"])
    item = pg.locator(f"#candidates li[data-candidate='{site.stored}']")
    assert item.count() == 1
    assert " m away" in item.inner_text()
    drawn = wait_for(pg, "window.review.drawn", TIMEOUT)
    assert drawn["candidates"] >= 1, drawn
    item.locator("button.rv-use").click()
    assert pg.input_value("#target") == site.stored
    assert pg.locator("#approve-update").is_enabled()
    assert pg.locator("#merge").is_disabled()  # a merge needs a reason
    pg.fill("#reason", "the same hazardous area")
    assert pg.locator("#merge").is_enabled()


def test_merge_two_duplicates(tab: Tab, site: Site) -> None:
    """Approve a submission and merge it into the record it duplicates, one action
    (``{"merge_into": ID}``, the contract of i13-merge): the stored record survives."""
    s = site.store()
    try:
        before = s.count("hazards")
    finally:
        s.close()
    pg = tab.open()
    tab.sign_in("rev")
    pg.select_option("#state-filter", "")
    tab.open_sub(site.subs["merge"])
    pg.fill("#target", site.stored)
    pg.fill("#reason", "the same hazardous area")
    pg.click("#merge")
    _announced(pg, f"merged into record {site.stored}")
    assert _sub(site, site.subs["merge"])["state"] == "approved"
    s = site.store()
    try:
        assert s.count("hazards") == before  # the duplicate went into the stored one
        assert s.get("hazards", site.stored) is not None
    finally:
        s.close()


def test_two_edits_of_one_record_and_a_stale_one(tab: Tab, site: Site) -> None:
    """Two organisations edit one record before review (the field app's two devices, issue
    14): each submission lists the other, and one click opens it; once the first is approved
    the second shows the conflict (made on revision 1, the record now at 2)."""
    import httpx

    h = {n: {"Authorization": f"Bearer {t}"} for n, t in site.tokens.items()}
    with httpx.Client(base_url=site.url) as c:
        r = c.post(
            "/ogc/collections/hazards/items",
            json=_hazard("Edited twice", X - 0.05, Y),
            headers=h["adm"],
        )
        assert r.status_code == 201, r.text
        hid = r.json()["id"]
        etag = c.get(f"/ogc/collections/hazards/items/{hid}", headers=h["adm"]).headers["etag"]
        ids = []
        for who, name in (("o_halo", "HALO's name"), ("o_mag", "MAG's name")):
            r = c.patch(
                f"/ogc/collections/hazards/items/{hid}",
                json={"properties": {"name": name}},
                headers={
                    **h[who],
                    "If-Match": etag,
                    "Content-Type": "application/merge-patch+json",
                },
            )
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
    first, second = ids
    pg = tab.open()
    tab.sign_in("rev")
    tab.open_sub(first)
    listed = pg.locator(f"[data-concurrent] button[data-open='{second}']")
    assert listed.count() == 1 and "made on revision 1" in listed.inner_text()
    assert pg.locator("[data-conflict]").count() == 0
    listed.click()
    wait_for(pg, f"document.body.dataset.detail === '{second}'", TIMEOUT)
    with httpx.Client(base_url=site.url) as c:
        r = c.post(f"/api/v1/submissions/{first}/approve", json={}, headers=h["rev"])
        assert r.status_code == 200, r.text
    tab.open_sub(second)
    wait_for(pg, "document.querySelector('[data-conflict]') !== null", TIMEOUT)
    text = pg.inner_text("[data-conflict]")
    assert "revision 1" in text and "revision 2" in text, text
    assert pg.locator("[data-concurrent]").count() == 0  # the first is decided
    tab.clean()
