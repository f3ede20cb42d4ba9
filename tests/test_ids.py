"""Record ids: UUIDv7 (RFC 9562 §5.7) made one at a time or many at once, and which texts are
UUIDs."""

from __future__ import annotations

import uuid

from demine.ids import is_uuid, normalise_id, uuid7, uuid7_many


def _fields(u: str) -> tuple[int, int, int, int]:
    v = uuid.UUID(u).int
    return v >> 80, (v >> 76) & 0xF, (v >> 64) & 0xFFF, (v >> 62) & 0b11


def test_many_ids_at_once_are_v7_in_order_and_after_and_before_single_ones() -> None:
    before = uuid7()
    many = uuid7_many(20_000)  # more than one millisecond's 4,096 sequence numbers
    after = uuid7()
    assert len(set(many)) == len(many) == 20_000
    assert [before, *many, after] == sorted([before, *many, after])
    for u in many[:50] + many[-50:]:
        assert len(u) == 36 and u == str(uuid.UUID(u)) == normalise_id(u.upper())
        ms, version, _, variant = _fields(u)
        assert version == 7 and variant == 0b10 and ms >= _fields(before)[0]
        assert uuid.UUID(u).version == 7 and is_uuid(u)
    # the sequence counts on, carrying into the milliseconds
    seqs = [(_fields(u)[0] << 12) | _fields(u)[2] for u in many]
    assert all(b - a == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    assert uuid7_many(0) == [] and len(uuid7_many(1)) == 1


def test_which_texts_are_uuids() -> None:
    u = uuid7()
    for ok in (
        u,
        u.upper(),
        u.replace("-", ""),
        "{" + u + "}",
        "urn:uuid:" + u,
        "urn:uuid:{" + u + "}",
    ):
        assert is_uuid(ok), ok
    for bad in (None, 7, "bench-000001", u[:-1], u + "0", u + "\n", " " + u, u.replace("-", "_")):
        assert not is_uuid(bad), bad
