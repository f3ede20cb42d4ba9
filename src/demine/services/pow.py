"""A proof-of-work for anonymous writes (issue 15, docs/civilian-reports.md "Abuse").

The server hands out a challenge it signed (HMAC-SHA256 with a secret made once and kept in
the store settings, ``public_report_secret``): ``ISSUED.BITS.RANDOM.MAC``. The client finds a
``nonce`` such that ``sha256(challenge + ":" + nonce)`` starts with ``BITS`` zero bits, and
sends both with its report. Checking costs the server one HMAC and one hash; no third-party
service, no state until the report is stored. A challenge is good for :data:`TTL_S` seconds
and for one stored report: its :func:`key` is the report's ``client_id``, unique in the store
(a unique index), so a second report with it is refused whatever process answers it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from demine.errors import Conflict, Fault, ValidationError
from demine.store.base import Store

SECRET_SETTING = "public_report_secret"
BITS_SETTING = "public_report_pow_bits"
DEFAULT_BITS = 15  # ~33,000 hashes: 1-4 s with WebCrypto at CPU x4 (docs/civilian-reports.md)
MAX_BITS = 28
TTL_S = 600
SKEW_S = 30  # a challenge issued "in the future" by a clock this far ahead is still taken
_CHALLENGE = re.compile(r"([0-9]{10})\.([0-9]{1,2})\.([0-9a-f]{16})\.([0-9a-f]{32})")
_NONCE = re.compile(r"[0-9A-Za-z_-]{1,64}")


def secret(store: Store) -> bytes:
    """The store's signing secret, made on first use (32 random bytes, hex in the settings)."""
    value = store.setting(SECRET_SETTING)
    if not value:
        store.set_setting(SECRET_SETTING, secrets.token_hex(32))
        value = store.setting(SECRET_SETTING)  # whoever wrote last: every process reads it
    return bytes.fromhex(str(value))


def bits(store: Store) -> int:
    """The difficulty: setting ``public_report_pow_bits`` (0-28), else :data:`DEFAULT_BITS`."""
    value = store.setting(BITS_SETTING)
    return DEFAULT_BITS if value is None else max(0, min(MAX_BITS, int(value)))


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]


def challenge(store: Store, now: float | None = None) -> dict[str, object]:
    """A new challenge: ``{challenge, difficulty, expires_in, algorithm}``."""
    issued = int(time.time() if now is None else now)
    n = bits(store)
    body = f"{issued:010d}.{n}.{secrets.token_hex(8)}"
    return {
        "challenge": f"{body}.{_mac(secret(store), body)}",
        "difficulty": n,
        "expires_in": TTL_S,
        "algorithm": 'sha256(challenge + ":" + nonce) starts with difficulty zero bits',
    }


def leading_zero_bits(digest: bytes) -> int:
    n = int.from_bytes(digest, "big")
    return len(digest) * 8 - n.bit_length()


def solve(text: str, difficulty: int) -> str:
    """A nonce for ``text`` (tests and tools; a browser solves it with WebCrypto)."""
    i = 0
    while True:
        nonce = format(i, "x")
        if leading_zero_bits(hashlib.sha256(f"{text}:{nonce}".encode()).digest()) >= difficulty:
            return nonce
        i += 1


def key(text: str) -> str:
    """What marks a challenge used: the ``client_id`` of the report made with it."""
    return "pow:" + hashlib.sha256(text.encode()).hexdigest()[:40]


def _refuse(reason: str, field: str = "challenge") -> ValidationError:
    return ValidationError(
        f"proof of work refused: {reason}", [Fault(reason, field=field, source="proof of work")]
    )


def verify(store: Store, text: object, nonce: object, now: float | None = None) -> str:
    """Check a solved challenge (signature, age, work); its :func:`key` when good, a
    :class:`ValidationError` naming what is wrong otherwise. Single use is the caller's: the
    key is stored with the report (see the module)."""
    if not isinstance(text, str) or not (m := _CHALLENGE.fullmatch(text)):
        raise _refuse(
            "not a challenge of this server: get one from /api/v1/public/reports/challenge"
        )
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise _refuse("the nonce is 1-64 letters, digits, '-' or '_'", "nonce")
    issued, n, _, mac = m.groups()
    if not hmac.compare_digest(mac, _mac(secret(store), text.rsplit(".", 1)[0])):
        raise _refuse("the challenge was not signed by this server")
    t = time.time() if now is None else now
    if int(issued) > t + SKEW_S or t - int(issued) > TTL_S:
        raise _refuse(f"the challenge has expired (they last {TTL_S} s): get a new one")
    digest = hashlib.sha256(f"{text}:{nonce}".encode()).digest()
    if leading_zero_bits(digest) < int(n):
        raise _refuse(f"the nonce does not solve the challenge ({n} zero bits)", "nonce")
    return key(text)


def used(store: Store, organisation: str, text: str) -> Conflict | None:
    """A Conflict when a report was already stored with this challenge."""
    if store.submission_by_client_id(organisation, key(text)) is None:
        return None
    return Conflict(
        "this challenge was already used for a report (each is good for one): "
        "your report was received; to send another, get a new challenge"
    )
