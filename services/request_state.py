"""The signed `requestState` of multi-round-trip requests (MCP 2026-07-28, `InputRequiredResult`).

A server that needs input from the client answers with `inputRequests` and an opaque `requestState`; the client
retries the same request with its answers and that state, and the retry may land on any worker, any instance, or the
other release slot during a cutover. So the state carries everything the retry needs, and it comes back through the
client: this module signs it (HMAC-SHA256) with a key every server shares and verifies it on the way back in.

A state is bound to the request it was issued for (the method, the tool/prompt/resource name and a digest of the
arguments), carries the tool's own round state and the answers of earlier rounds, and expires (`ttl_s`). With
authentication on, it is bound to the caller too: a digest of the token's subject is part of what is signed (never
written into the token), so a state issued to one subject fails its check for any other, exactly as an altered state
does. It is signed, not encrypted: a client can read what it answered itself, and nothing else is in it.

Keys: `MCP_REQUEST_STATE_KEYS`, comma-separated base64url keys (each at least 32 bytes decoded). The first signs, every
one verifies, so a key is rotated by adding the new one second, then moving it first, then dropping the old one once
the states it signed have expired (docs/protocol.md). Unset, each process makes a random key at start and logs one
warning: a retry that reaches another worker or instance is then refused.

Pure computation, no I/O; used by both servers (services/round_trips.py builds the peer and the results on top).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

log = logging.getLogger("mcpstack.request_state")

KEYS_ENV = "MCP_REQUEST_STATE_KEYS"
MIN_KEY_BYTES = 32
DEFAULT_TTL_S = 600.0
FUTURE_SKEW_S = 60.0  # a state issued this far in the future still counts (clocks of two instances differ)
FORMAT = "v1"  # the token's format, under the signature: a token never names another format or algorithm
_KID_LABEL = b"mcpstack/request-state/kid:"
_KID_BYTES = 6
_CALLER_LABEL = b"\nmcpstack/request-state/caller:"  # after the signed text, whose characters are base64url and "."


class RequestStateConfigError(ValueError):
    """`MCP_REQUEST_STATE_KEYS` cannot be used: the message is the one line the operator sees."""


class InvalidRequestState(Exception):
    """A `requestState` that this service cannot accept. `reason` is a short code (`malformed`, `unknown_key`,
    `signature`, `expired`, `other_request`); the message says what the client should do, and neither names a key
    or anything internal."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class RoundState:
    """What a verified `requestState` carries back: the tool's own state from the round that issued it (None when it
    passed none) and the answers of all earlier rounds, by input-request key."""

    state: str | None
    answers: dict[str, Any]


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64u_decode(text: str) -> bytes:
    """The strict inverse of `_b64u`: only the canonical unpadded form decodes (so a token has one spelling)."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64u(raw) != text:
        raise ValueError("not canonical base64url")
    return raw


def parse_keys(raw: str) -> tuple[bytes, ...]:
    """The keys of an `MCP_REQUEST_STATE_KEYS` value, in order; raises RequestStateConfigError with one clear line."""
    keys: list[bytes] = []
    for index, item in enumerate(raw.split(",")):
        item = item.strip()
        if not item:
            raise RequestStateConfigError(f"{KEYS_ENV}: key {index + 1} is empty (comma-separated base64url keys)")
        try:
            key = base64.urlsafe_b64decode(item + "=" * (-len(item) % 4))
        except (binascii.Error, ValueError):
            raise RequestStateConfigError(f"{KEYS_ENV}: key {index + 1} is not base64url") from None
        if len(key) < MIN_KEY_BYTES:
            raise RequestStateConfigError(
                f"{KEYS_ENV}: key {index + 1} is {len(key)} bytes, at least {MIN_KEY_BYTES} are needed "
                '(make one with: python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        if key in keys:
            raise RequestStateConfigError(f"{KEYS_ENV}: key {index + 1} repeats an earlier key")
        keys.append(key)
    return tuple(keys)


def new_key() -> str:
    """A fresh key in the form `MCP_REQUEST_STATE_KEYS` takes (32 random bytes, base64url)."""
    return secrets.token_urlsafe(MIN_KEY_BYTES)


def arguments_digest(arguments: Any) -> str:
    """A digest of a request's arguments (sorted keys, compact), which a state is bound to: a retry must repeat them."""
    try:
        encoded = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer beyond 64 bits (orjson.JSONEncodeError is a TypeError)
        encoded = json.dumps(arguments, sort_keys=True, separators=(",", ":")).encode()
    return _b64u(hashlib.sha256(encoded).digest()[:16])


class RequestStateSigner:
    """Signs and verifies `requestState` tokens with a key ring: `keys[0]` signs, every key verifies.

    Token: `v1.<key id>.<payload>.<signature>`, each part base64url; the signature is HMAC-SHA256 over everything
    before it, so neither the format, nor the key id, nor the payload can change unnoticed. The payload is compact
    JSON: `{"m": method, "t": target, "a": arguments digest, "iat": issued, "exp": expires, "s": tool state,
    "r": earlier answers}` (times in whole seconds since the epoch).

    `caller` (the authenticated subject, None with authentication off) is bound by the signature alone: the HMAC
    covers a SHA-256 digest of it after the signed text, so the token's format is the same with or without
    authentication, the subject is not readable in it, and a state presented by another subject (or one issued
    without authentication, presented with it) fails as `signature`, the answer to an altered state."""

    def __init__(self, keys: Sequence[bytes], *, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.time):
        if not keys:
            raise RequestStateConfigError(f"{KEYS_ENV}: at least one key is needed")
        if ttl_s <= 0:
            raise RequestStateConfigError("the requestState lifetime must be positive")
        self._ring: dict[str, bytes] = {}
        for key in keys:
            if len(key) < MIN_KEY_BYTES:
                raise RequestStateConfigError(f"{KEYS_ENV}: a key must be at least {MIN_KEY_BYTES} bytes")
            self._ring[_b64u(hashlib.sha256(_KID_LABEL + key).digest()[:_KID_BYTES])] = key
        self._signing_kid = next(iter(self._ring))
        self.ttl_s = ttl_s
        self._clock = clock

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, ttl_s: float = DEFAULT_TTL_S) -> RequestStateSigner:
        """The signer of `MCP_REQUEST_STATE_KEYS`, or of a random key of this process (with one warning) when unset."""
        raw = (os.environ if env is None else env).get(KEYS_ENV, "").strip()
        if raw:
            return cls(parse_keys(raw), ttl_s=ttl_s)
        log.warning(
            "%s is not set: requestState is signed with a random key of this process, so a multi-round-trip retry "
            "that reaches another worker or instance is refused; set one shared key on every server",
            KEYS_ENV,
        )
        return cls((secrets.token_bytes(MIN_KEY_BYTES),), ttl_s=ttl_s)

    def sign(
        self,
        *,
        method: str,
        target: str,
        arguments: Any,
        state: str | None,
        answers: Mapping[str, Any],
        caller: str | None = None,
    ) -> str:
        now = int(self._clock())
        payload = {
            "m": method,
            "t": target,
            "a": arguments_digest(arguments),
            "iat": now,
            "exp": now + int(self.ttl_s),
            "s": state,
            "r": answers,
        }
        signed = f"{FORMAT}.{self._signing_kid}.{_b64u(orjson.dumps(payload))}"
        mac = hmac.digest(self._ring[self._signing_kid], _signed_bytes(signed, caller), "sha256")
        return f"{signed}.{_b64u(mac)}"

    def verify(self, token: Any, *, method: str, target: str, arguments: Any, caller: str | None = None) -> RoundState:
        """The state a token carries, once its signature (over the caller too), lifetime and request binding hold;
        else InvalidRequestState."""
        if not isinstance(token, str):
            raise InvalidRequestState(
                "malformed", "Invalid requestState: it must be the string a previous InputRequiredResult carried"
            )
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != FORMAT:
            raise _refused("malformed")
        _, kid, encoded, signature = parts
        key = self._ring.get(kid)
        if key is None:
            raise _refused("unknown_key")
        try:
            mac = _b64u_decode(signature)
        except ValueError:
            raise _refused("signature") from None
        expected = hmac.digest(key, _signed_bytes(f"{FORMAT}.{kid}.{encoded}", caller), "sha256")
        if not hmac.compare_digest(mac, expected):
            raise _refused("signature")
        try:
            claims = orjson.loads(_b64u_decode(encoded))
            issued, expires, state, answers = claims["iat"], claims["exp"], claims["s"], claims["r"]
        except (ValueError, KeyError, TypeError):  # signed by us, so only a format change gets here
            raise _refused("malformed") from None
        if not (isinstance(issued, int) and isinstance(expires, int)):
            raise _refused("malformed")
        now = self._clock()
        if not issued <= now + FUTURE_SKEW_S:
            raise _refused("malformed")  # issued in the future: not by a server whose clock is right
        if not now < expires:
            raise _refused("expired")
        if claims.get("m") != method or claims.get("t") != target or claims.get("a") != arguments_digest(arguments):
            raise _refused("other_request")
        if not (state is None or isinstance(state, str)) or not isinstance(answers, dict):
            raise _refused("malformed")
        return RoundState(state, answers)


def _signed_bytes(signed: str, caller: str | None) -> bytes:
    """What the HMAC covers: the token's text before its signature, then, with authentication on, a digest of the
    caller (a fixed 32 bytes whatever the subject's length)."""
    text = signed.encode("ascii", "replace")
    if caller is None:
        return text
    return text + _CALLER_LABEL + hashlib.sha256(caller.encode("utf-8", "surrogatepass")).digest()


_MESSAGES = {
    "malformed": "requestState is not one this service issued; retry the request without requestState and "
    "inputResponses to start again",
    "unknown_key": "requestState was signed with a key this service does not hold (issued elsewhere, or before a key "
    "rotation); retry the request without requestState and inputResponses to start again",
    "signature": "requestState failed its integrity check (altered or truncated); retry the request without "
    "requestState and inputResponses to start again",
    "expired": "requestState has expired; retry the request without requestState and inputResponses to start again",
    "other_request": "requestState was issued for another request (a different method, name or arguments); send it "
    "back only with the request that received it",
}


def _refused(reason: str) -> InvalidRequestState:
    return InvalidRequestState(reason, "Invalid requestState: " + _MESSAGES[reason])


_default: RequestStateSigner | None = None


def default_signer() -> RequestStateSigner:
    """This process's signer from the environment (`RequestStateSigner.from_env`), made once: every server object in
    the process shares it, so the warning about an unset key is logged once per process."""
    global _default
    if _default is None:
        _default = RequestStateSigner.from_env()
    return _default
