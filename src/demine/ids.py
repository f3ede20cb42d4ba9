"""Record identifiers: UUID version 7 (RFC 9562), which sort by creation time."""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_seq = 0


def uuid7() -> str:
    """A new UUIDv7 as a lower-case string; monotonic within this process."""
    global _last_ms, _seq
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _seq = (_seq + 1) & 0xFFF
            if _seq == 0:
                ms += 1
        else:
            _seq = int.from_bytes(os.urandom(2), "big") & 0x7FF
        _last_ms = ms
        seq = _seq
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | seq << 64 | 0b10 << 62 | rand
    return str(uuid.UUID(int=value))


def normalise_id(value: object) -> str:
    """Parse any UUID spelling into the canonical lower-case form, or raise ValueError."""
    return str(uuid.UUID(str(value)))


_UUID_RE = re.compile(
    r"(urn:uuid:)?\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{12}\}?"
)  # the whole text: fullmatch (a "$" would let a trailing newline through)


def is_uuid(value: object) -> bool:
    if not isinstance(value, str) or not _UUID_RE.fullmatch(value):
        return False
    try:
        uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def uuid7_many(n: int) -> list[str]:
    """n new UUIDv7 strings, in increasing order, faster than n calls of :func:`uuid7`."""
    if n <= 0:
        return []
    first = uuid.UUID(uuid7()).int
    ms = first >> 80
    seq0 = (first >> 64) & 0xFFF
    rand = os.urandom(8 * n)
    out = []
    for i in range(n):
        seq = seq0 + i
        t = ms + (seq >> 12)
        r = int.from_bytes(rand[8 * i : 8 * i + 8], "big") & ((1 << 62) - 1)
        v = (t & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (seq & 0xFFF) << 64 | 0b10 << 62 | r
        h = f"{v:032x}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    global _last_ms, _seq
    with _lock:  # later single ids stay after these
        last_t = ms + ((seq0 + n - 1) >> 12)
        if last_t > _last_ms or (last_t == _last_ms and ((seq0 + n - 1) & 0xFFF) > _seq):
            _last_ms, _seq = last_t, (seq0 + n - 1) & 0xFFF
    return out
