"""CQL2 ``LIKE`` in linear time: a wildcard matcher that never backtracks.

CQL2 1.0 (OGC 21-065, advanced comparison operators): in a ``LIKE`` pattern ``%`` matches any
sequence of characters (none included), ``_`` exactly one character, and ``\\`` escapes the
next character (``\\%``, ``\\_``, ``\\\\``: a literal ``%``, ``_``, ``\\``). Every other character,
``.`` and ``*`` included, is itself. The whole value must match.

A regular expression built from the pattern (what pygeofilter does) backtracks: ``'%%%%%Q'``
against a 200-character text takes seconds, a few more ``%`` take minutes. This is the classic
greedy wildcard algorithm instead, in its segment form: the pattern is cut at its ``%`` (runs of
``%`` are one); the first segment must match at the start, the last at the end, and every
segment between is matched at its leftmost place after the previous one. Taking the leftmost
place is never wrong (any later match of the rest also follows it), so nothing is ever undone.
A segment is found with ``str.find`` on its longest literal run (C speed); one with ``_`` in it
is then scanned bit-parallel (Shift-And), one step per character of the text. The work is thus
at most ``len(text) * len(pattern)`` (in fact ``len(text) * ceil(len(pattern) / 64)`` word
operations) and no input can make it go back.
"""

from __future__ import annotations

from dataclasses import dataclass

WILDCARD = "%"
SINGLE = "_"
ESCAPE = "\\"


class LikePatternError(ValueError):
    """A pattern that is not valid CQL2 (a lone escape at its end)."""


@dataclass(frozen=True, slots=True)
class _Segment:
    """A run of the pattern between two ``%``: literal pieces at offsets, ``_`` in between."""

    length: int  # characters it matches (each ``_`` is one)
    pieces: tuple[tuple[int, str], ...]  # (offset, literal text), in order
    anchor: int  # index in ``pieces`` of the longest literal (what str.find looks for)
    masks: dict[str, int]  # Shift-And: bit i set where the segment's character i may be c
    wild: int  # bit i set where the segment has ``_``

    def at(self, text: str, pos: int, end: int) -> bool:
        """Does the segment match ``text`` at ``pos`` (without passing ``end``)?"""
        if pos < 0 or pos + self.length > end:
            return False
        return all(text.startswith(lit, pos + off) for off, lit in self.pieces)

    def find(self, text: str, start: int, end: int) -> int:
        """The leftmost position >= ``start`` where the segment matches before ``end``; -1."""
        if start + self.length > end:
            return -1
        if not self.pieces:  # only ``_``: any place with room
            return start
        off, lit = self.pieces[self.anchor]
        q = text.find(lit, start + off, end)  # no match can start before q - off
        if q < 0 or q - off + self.length > end:
            return -1
        if not self.wild:  # one literal: str.find has found it
            return q
        return self._shift_and(text, q - off, end)

    def _shift_and(self, text: str, start: int, end: int) -> int:
        """Bit-parallel scan (Shift-And, Baeza-Yates & Gonnet): one step per character of the
        text, whatever the pattern, so ``_`` can never make the search go back."""
        m = self.length
        done = 1 << (m - 1)
        get = self.masks.get
        wild = self.wild
        d = 0
        for k in range(start, end):
            d = ((d << 1) | 1) & get(text[k], wild)
            if d & done:
                return k - m + 1
        return -1


@dataclass(frozen=True, slots=True)
class LikePattern:
    """A compiled CQL2 LIKE pattern; ``match(text)`` is the LIKE test."""

    source: str
    segments: tuple[_Segment, ...]
    open_start: bool  # the pattern begins with %
    open_end: bool  # the pattern ends with %

    def match(self, text: str) -> bool:
        segs = self.segments
        end = len(text)
        if not self.open_start and not self.open_end and len(segs) <= 1:
            if not segs:  # the empty pattern
                return end == 0
            return segs[0].length == end and segs[0].at(text, 0, end)
        i, j = 0, len(segs)
        pos = 0
        if not self.open_start:
            first = segs[0]
            if not first.at(text, 0, end):
                return False
            pos = first.length
            i = 1
        if not self.open_end and j > i:
            last = segs[-1]
            start = end - last.length
            if start < pos or not last.at(text, start, end):
                return False
            end = start
            j -= 1
        for seg in segs[i:j]:
            p = seg.find(text, pos, end)
            if p < 0:
                return False
            pos = p + seg.length
        return True


def _segment(tokens: list[str | None]) -> _Segment:
    """A segment from its tokens: a character (literal) or None (``_``)."""
    pieces: list[tuple[int, str]] = []
    run: list[str] = []
    wild = 0
    masks: dict[str, int] = {}
    for i, t in enumerate(tokens):
        if t is None:
            wild |= 1 << i
            if run:
                pieces.append((i - len(run), "".join(run)))
                run = []
        else:
            masks[t] = masks.get(t, 0) | (1 << i)
            run.append(t)
    if run:
        pieces.append((len(tokens) - len(run), "".join(run)))
    masks = {c: bits | wild for c, bits in masks.items()}
    anchor = max(range(len(pieces)), key=lambda k: len(pieces[k][1]), default=0)
    return _Segment(len(tokens), tuple(pieces), anchor, masks, wild)


def compile_like(pattern: str, *, casefold: bool = False) -> LikePattern:
    """Compile a CQL2 LIKE pattern (``%``, ``_``, ``\\`` escapes); ``casefold`` folds it (the
    text must then be folded too: ``CASEI``)."""
    if casefold:
        pattern = pattern.casefold()
    segments: list[_Segment] = []
    cur: list[str | None] = []
    open_start = open_end = False
    after_wild = False
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == ESCAPE:
            if i + 1 >= n:
                raise LikePatternError(
                    "the LIKE pattern ends with a lone escape character '\\' "
                    "(write '\\\\' for a backslash)"
                )
            cur.append(pattern[i + 1])
            i += 2
            after_wild = False
            continue
        if c == WILDCARD:
            if i == 0:
                open_start = True
            if cur:
                segments.append(_segment(cur))
                cur = []
            after_wild = True
            i += 1
            continue
        cur.append(None if c == SINGLE else c)
        after_wild = False
        i += 1
    if cur:
        segments.append(_segment(cur))
    open_end = after_wild
    return LikePattern(pattern, tuple(segments), open_start, open_end)


def like(text: str, pattern: str) -> bool:
    """``text LIKE pattern`` per CQL2 (one-off; compile once with compile_like for many)."""
    return compile_like(pattern).match(text)
