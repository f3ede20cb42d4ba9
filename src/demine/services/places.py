"""Place names for the public map's "find a place": the store's settlements reference layer and
the packaged administrative regions, found by what people type.

A name matches when every word typed begins a word of the name (``"нов бу"`` finds
"Нова Буда"), after folding case, accents and apostrophes (ʼ ' ’ `` ` ``) away. A name typed in
Latin letters is also matched against the Ukrainian name's official transliteration (Cabinet of
Ministers of Ukraine resolution 55 of 2010: "Kharkiv", "Zaporizka", "Kyiv"), so a visitor
without a Ukrainian keyboard finds the same places. Whole-name prefixes come first, then larger
settlements (by a ``population`` field when the layer has one), then shorter names.

The settlements layer is read once per data version (``Store.data_version``), so a lookup is a
scan of a few tens of thousands of short strings in memory: bounded work for an anonymous
request whatever it asks.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

from demine.errors import Fault, NotFound, ValidationError

__all__ = ["MAX_LIMIT", "Place", "find_places", "fold", "translit_uk"]

LAYER = "settlements"
MAX_LIMIT = 20
MIN_QUERY, MAX_QUERY = 2, 100
NAME_FIELDS = ("name", "name_uk", "name_en", "name_ua", "name_ru", "назва", "nazva", "title")

# Resolution of the Cabinet of Ministers of Ukraine No 55 of 27 January 2010 (the official
# romanisation); letters at a word's start take the second form.
_TR: dict[str, tuple[str, str]] = {
    "а": ("a", "a"), "б": ("b", "b"), "в": ("v", "v"), "г": ("h", "h"), "ґ": ("g", "g"),
    "д": ("d", "d"), "е": ("e", "e"), "є": ("ie", "ye"), "ж": ("zh", "zh"), "з": ("z", "z"),
    "и": ("y", "y"), "і": ("i", "i"), "ї": ("i", "yi"), "й": ("i", "y"), "к": ("k", "k"),
    "л": ("l", "l"), "м": ("m", "m"), "н": ("n", "n"), "о": ("o", "o"), "п": ("p", "p"),
    "р": ("r", "r"), "с": ("s", "s"), "т": ("t", "t"), "у": ("u", "u"), "ф": ("f", "f"),
    "х": ("kh", "kh"), "ц": ("ts", "ts"), "ч": ("ch", "ch"), "ш": ("sh", "sh"),
    "щ": ("shch", "shch"), "ь": ("", ""), "ю": ("iu", "yu"), "я": ("ia", "ya"),
}  # fmt: skip
_APOSTROPHES = dict.fromkeys(map(ord, "'ʼ’‘`´\u02bb"), None)
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case, no accents or apostrophes; ``й``/``ї`` kept (they are letters, not accents)."""
    s = text.translate(_APOSTROPHES).casefold()
    s = s.replace("й", "\0").replace("ї", "\1").replace("ё", "\2")
    s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    return s.replace("\0", "й").replace("\1", "ї").replace("\2", "е")


def translit_uk(text: str) -> str:
    """The official Latin spelling of a Ukrainian name (folded: lower case)."""
    out: list[str] = []
    start = True
    s = fold(text)
    for i, c in enumerate(s):
        if c == "з" and s[i + 1 : i + 2] == "г":  # "зг" is "zgh", not "zh"
            out.append("zg")
            start = False
            continue
        tr = _TR.get(c)
        if tr is None:
            out.append(c)
            start = not c.isalpha()
            continue
        out.append(tr[1] if start else tr[0])
        start = False
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    kind: str  # "settlement" | "region"
    lon: float
    lat: float
    bbox: tuple[float, float, float, float] | None
    weight: float  # population, when known (orders equal matches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "lon": round(self.lon, 6),
            "lat": round(self.lat, 6),
            "bbox": None if self.bbox is None else [round(v, 6) for v in self.bbox],
        }


@dataclass(frozen=True, slots=True)
class _Entry:
    place: Place
    words: tuple[str, ...]  # folded words of the name (and, separately, its transliteration)
    whole: str


def _entries(place: Place, names: list[str]) -> list[_Entry]:
    out = []
    for n in names:
        for form in {fold(n), translit_uk(n)}:
            out.append(_Entry(place, tuple(_WORD.findall(form)), " ".join(_WORD.findall(form))))
    return out


def _names(props: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for key, value in props.items():
        k = key.casefold()
        v = value.strip() if isinstance(value, str) else ""
        if v and (k in NAME_FIELDS or k.startswith("name")) and v not in found:
            found.append(v)
    return found


def _number(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return f if f == f and f >= 0 else 0.0  # NaN and negative: unknown


class _Index:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version: tuple[str, str] | None = None
        self.entries: list[_Entry] = []


_REGIONS: list[_Entry] = []


def _region_entries() -> list[_Entry]:
    if not _REGIONS:
        import shapely
        from shapely.geometry import shape

        from demine.io.regions import load_regions

        for f in load_regions():
            g = shape(f["geometry"])
            p = g.representative_point()
            name = str(f["properties"]["region"])
            w, south, e, n = (float(v) for v in shapely.bounds(g))
            place = Place(name, "region", p.x, p.y, (w, south, e, n), 0.0)
            _REGIONS.extend(_entries(place, [name]))
    return _REGIONS


def _layer_entries(store: Any, cache: _Index) -> list[_Entry]:
    try:
        kind = store.kind(LAYER)
    except NotFound:
        return []
    if not kind.geometry_type:
        return []
    version = (store.location, store.data_version(LAYER))
    with cache.lock:
        if cache.version == version:
            return cache.entries
    entries: list[_Entry] = []
    for rec in store.list(LAYER):
        g = rec.geometry
        if g is None or g.is_empty:
            continue
        names = _names(rec.properties)
        if not names:
            continue
        p = g if g.geom_type == "Point" else g.representative_point()
        w, south, e, n = (float(v) for v in g.bounds)
        bbox = None if g.geom_type == "Point" else (w, south, e, n)
        place = Place(
            names[0], "settlement", p.x, p.y, bbox, _number(rec.properties.get("population"))
        )
        entries.extend(_entries(place, names))
    with cache.lock:
        cache.version, cache.entries = version, entries
    return entries


def _query_words(q: str) -> tuple[str, ...]:
    words = tuple(_WORD.findall(fold(q)))
    if not q.strip() or not words or not (MIN_QUERY <= len(q.strip()) <= MAX_QUERY):
        raise ValidationError(
            "bad place name",
            [
                Fault(
                    f"type {MIN_QUERY} to {MAX_QUERY} characters of a place's name",
                    field="q",
                )
            ],
        )
    return words


def _matches(entry: _Entry, words: tuple[str, ...]) -> bool:
    used = list(entry.words)
    for w in words:
        for i, have in enumerate(used):
            if have.startswith(w):
                del used[i]
                break
        else:
            return False
    return True


def find_places(store: Any, q: str, limit: int = 10, *, cache: Any = None) -> list[Place]:
    """The places whose names match ``q`` (see the module), best first, at most ``limit``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(
            "bad limit", [Fault(f"limit must be 1 to {MAX_LIMIT}", field="limit")]
        )
    words = _query_words(q)
    folded = " ".join(words)
    idx = cache if isinstance(cache, _Index) else _Index()
    best: dict[int, tuple[tuple[float, ...], Place]] = {}
    for e in (*_layer_entries(store, idx), *_region_entries()):
        if not _matches(e, words):
            continue
        rank = (
            0.0 if e.whole == folded else 1.0 if e.whole.startswith(folded) else 2.0,
            0.0 if e.place.kind == "settlement" else 1.0,
            -e.place.weight,
            float(len(e.whole)),
        )
        key = id(e.place)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, e.place)
    ranked = sorted(best.values(), key=lambda rp: (rp[0], rp[1].name))
    return [p for _, p in ranked[:limit]]


def new_cache() -> Any:
    """A cache of one store's settlements names, for a process that answers many lookups."""
    return _Index()
