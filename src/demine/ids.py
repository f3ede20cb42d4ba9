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
    # 32 hex digits, with at most 4 dashes, braces and "urn:uuid:" around them
    if not isinstance(value, str) or not 32 <= len(value) <= 47 or not _UUID_RE.fullmatch(value):
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
    # the 16 bytes of each, big endian: 48-bit ms | version 7 | 12-bit sequence, then the
    # variant (0b10) and 62 random bits; written as text for all at once
    import numpy as np

    seq = seq0 + np.arange(n, dtype=np.uint64)
    hi = ((ms + (seq >> np.uint64(12))) & np.uint64((1 << 48) - 1)) << np.uint64(16)
    hi |= np.uint64(0x7 << 12) | (seq & np.uint64(0xFFF))
    lo = np.frombuffer(os.urandom(8 * n), dtype=">u8").astype(np.uint64)
    lo = (lo & np.uint64((1 << 62) - 1)) | np.uint64(0b10 << 62)
    raw = np.empty((n, 2), dtype=">u8")
    raw[:, 0], raw[:, 1] = hi, lo
    octets = raw.view(np.uint8).reshape(n, 16)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    hexes = np.empty((n, 32), dtype=np.uint8)
    hexes[:, 0::2], hexes[:, 1::2] = digits[octets >> 4], digits[octets & 15]
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for x, y, h in ((0, 8, 0), (9, 13, 8), (14, 18, 12), (19, 23, 16), (24, 36, 20)):
        text[:, x:y] = hexes[:, h : h + y - x]
    joined = text.tobytes().decode("ascii")
    out = [joined[i : i + 36] for i in range(0, 36 * n, 36)]
    global _last_ms, _seq
    with _lock:  # later single ids stay after these
        last_t = ms + ((seq0 + n - 1) >> 12)
        if last_t > _last_ms or (last_t == _last_ms and ((seq0 + n - 1) & 0xFFF) > _seq):
            _last_ms, _seq = last_t, (seq0 + n - 1) & 0xFFF
    return out
