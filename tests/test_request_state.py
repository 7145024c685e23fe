"""services/request_state.py: a requestState comes back only as it was issued, for the request it was issued for,
within its lifetime, under a key of the ring; keys come from MCP_REQUEST_STATE_KEYS or, unset, from the process."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys

import orjson
import pytest

from services import request_state
from services.request_state import (
    MIN_KEY_BYTES,
    InvalidRequestState,
    RequestStateConfigError,
    RequestStateSigner,
    new_key,
    parse_keys,
)
from tests.support import REPO

KEY_A = parse_keys(new_key())[0]
KEY_B = parse_keys(new_key())[0]
CALL = {"method": "tools/call", "target": "book_trip", "arguments": {"city": "Paris", "nights": 2}}


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _issue(signer: RequestStateSigner) -> str:
    return signer.sign(**CALL, state="step2", answers={"city": {"action": "accept", "content": {"city": "Paris"}}})


def _refusal(signer: RequestStateSigner, token: object, **overrides: object) -> str:
    with pytest.raises(InvalidRequestState) as caught:
        signer.verify(token, **{**CALL, **overrides})  # type: ignore[arg-type]
    assert caught.value.message.startswith("Invalid requestState: ")
    return caught.value.reason


def test_a_state_verifies_on_another_signer_with_the_same_key() -> None:
    token = _issue(RequestStateSigner([KEY_A]))
    carried = RequestStateSigner([KEY_A]).verify(token, **CALL)  # type: ignore[arg-type]
    assert carried.state == "step2"
    assert carried.answers == {"city": {"action": "accept", "content": {"city": "Paris"}}}


def test_argument_order_does_not_matter_but_their_values_do() -> None:
    signer = RequestStateSigner([KEY_A])
    token = _issue(signer)
    assert signer.verify(token, method="tools/call", target="book_trip", arguments={"nights": 2, "city": "Paris"})
    assert _refusal(signer, token, arguments={"city": "Paris", "nights": 3}) == "other_request"


@pytest.mark.parametrize("override", [{"method": "prompts/get"}, {"target": "cancel_trip"}, {"arguments": None}])
def test_a_state_for_another_request_is_refused(override: dict[str, object]) -> None:
    signer = RequestStateSigner([KEY_A])
    assert _refusal(signer, _issue(signer), **override) == "other_request"


def test_a_tampered_payload_is_refused() -> None:
    signer = RequestStateSigner([KEY_A])
    fmt, kid, payload, mac = _issue(signer).split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["s"] = "done"
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    assert _refusal(signer, f"{fmt}.{kid}.{forged}.{mac}") == "signature"


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda t: t + "-TAMPERED", "signature"),
        (lambda t: t[:-1], "signature"),
        (lambda t: "v2" + t[2:], "malformed"),
        (lambda t: t.replace(".", "", 1), "malformed"),
        (lambda t: "", "malformed"),
        (lambda t: "v1.x.y.z", "unknown_key"),
    ],
)
def test_a_mangled_token_is_refused_with_its_reason(mangle: object, reason: str) -> None:
    signer = RequestStateSigner([KEY_A])
    assert _refusal(signer, mangle(_issue(signer))) == reason  # type: ignore[operator]


@pytest.mark.parametrize("token", [None, 42, ["v1"], {"s": 1}])
def test_a_state_that_is_not_a_string_is_refused(token: object) -> None:
    assert _refusal(RequestStateSigner([KEY_A]), token) == "malformed"


def test_a_state_signed_with_a_foreign_key_is_refused() -> None:
    token = _issue(RequestStateSigner([KEY_B]))
    assert _refusal(RequestStateSigner([KEY_A]), token) == "unknown_key"


def test_rotation_the_first_key_signs_and_every_key_verifies() -> None:
    old = RequestStateSigner([KEY_A])
    rotating = RequestStateSigner([KEY_B, KEY_A])
    assert rotating.verify(_issue(old), **CALL).state == "step2"  # type: ignore[arg-type]
    new_state = _issue(rotating)
    assert RequestStateSigner([KEY_B]).verify(new_state, **CALL).state == "step2"  # type: ignore[arg-type]
    assert _refusal(old, new_state) == "unknown_key"


def test_a_state_expires_after_its_lifetime() -> None:
    clock = Clock()
    signer = RequestStateSigner([KEY_A], ttl_s=600, clock=clock)
    token = _issue(signer)
    clock.now += 599
    assert signer.verify(token, **CALL).state == "step2"  # type: ignore[arg-type]
    clock.now += 1
    assert _refusal(signer, token) == "expired"


def test_a_state_issued_in_the_future_is_refused() -> None:
    clock = Clock()
    token = _issue(RequestStateSigner([KEY_A], clock=clock))
    clock.now -= 3600
    assert _refusal(RequestStateSigner([KEY_A], clock=clock), token) == "malformed"


def test_arguments_beyond_64_bit_integers_are_digested() -> None:
    signer = RequestStateSigner([KEY_A])
    big = {"n": 2**70}
    token = signer.sign(method="tools/call", target="t", arguments=big, state=None, answers={})
    assert signer.verify(token, method="tools/call", target="t", arguments=big).state is None


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "key 1 is empty"),
        (f"{new_key()},,", "key 2 is empty"),
        ("c2hvcnQ", f"at least {MIN_KEY_BYTES}"),
        ("!!!not base64!!!", "not base64url"),
    ],
)
def test_bad_keys_fail_with_one_clear_line(raw: str, says: str) -> None:
    with pytest.raises(RequestStateConfigError) as caught:
        parse_keys(raw)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_repeated_key_is_refused() -> None:
    key = new_key()
    with pytest.raises(RequestStateConfigError, match="repeats"):
        parse_keys(f"{key},{key}")


def test_keys_from_the_environment_are_shared_and_an_unset_variable_warns(caplog: pytest.LogCaptureFixture) -> None:
    key = new_key()
    first = RequestStateSigner.from_env({"MCP_REQUEST_STATE_KEYS": f" {key} , {new_key()}"})
    token = _issue(first)
    assert RequestStateSigner.from_env({"MCP_REQUEST_STATE_KEYS": key}).verify(token, **CALL)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="mcpstack.request_state"):
        alone = RequestStateSigner.from_env({})
    assert [r.message for r in caplog.records if "MCP_REQUEST_STATE_KEYS is not set" in r.message]
    assert _refusal(alone, token) == "unknown_key"


def test_the_default_signer_is_made_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(request_state, "_default", None)
    monkeypatch.setenv("MCP_REQUEST_STATE_KEYS", new_key())
    assert request_state.default_signer() is request_state.default_signer()


@pytest.mark.parametrize("kind", ["native", "fastapi"])
def test_serve_refuses_a_bad_key_in_one_line_before_starting(kind: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_")} | {"MCP_REQUEST_STATE_KEYS": "c2hvcnQ"}
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "serve", kind, "--database-url", "postgresql://x@127.0.0.1:1/x"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "MCP_REQUEST_STATE_KEYS: key 1 is 5 bytes, at least 32 are needed" in output
    assert "Traceback" not in output


def test_a_state_issued_to_one_subject_is_refused_for_another_as_an_altered_one() -> None:
    signer = RequestStateSigner((KEY_A,))
    token = signer.sign(**CALL, state="step2", answers={}, caller="alice")
    assert signer.verify(token, **CALL, caller="alice").state == "step2"
    altered = _refusal(signer, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), caller="alice")
    for other in ("bob", "alice ", "", None):  # another subject, or a retry without authentication
        with pytest.raises(InvalidRequestState) as caught:
            signer.verify(token, **CALL, caller=other)
        assert caught.value.reason == altered == "signature"
        assert caught.value.message == request_state._refused("signature").message  # nothing says why


def test_a_state_issued_without_authentication_is_refused_for_a_subject() -> None:
    signer = RequestStateSigner((KEY_A,))
    assert _refusal(signer, _issue(signer), caller="alice") == "signature"


def test_the_bound_state_has_the_one_format_and_does_not_carry_the_subject() -> None:
    signer = RequestStateSigner((KEY_A,))
    bound = signer.sign(**CALL, state=None, answers={}, caller="alice@example.test")
    unbound = signer.sign(**CALL, state=None, answers={})
    assert bound.split(".")[:3] == unbound.split(".")[:3]  # same format, key id and payload: only the MAC differs
    assert bound != unbound
    payload = orjson.loads(base64.urlsafe_b64decode(bound.split(".")[2] + "=="))
    assert set(payload) == {"m", "t", "a", "iat", "exp", "s", "r"}
    assert b"alice" not in orjson.dumps(payload)


def test_rotation_keeps_a_bound_state_valid_for_its_subject() -> None:
    old = RequestStateSigner((KEY_A,))
    token = old.sign(**CALL, state="s", answers={}, caller="alice")
    rotated = RequestStateSigner((KEY_B, KEY_A))  # step 2 of the rotation: the new key signs, the old verifies
    assert rotated.verify(token, **CALL, caller="alice").state == "s"
    assert _refusal(rotated, token, caller="bob") == "signature"
    again = rotated.sign(**CALL, state="t", answers={}, caller="alice")
    assert _refusal(RequestStateSigner((KEY_B,)), again, caller="mallory") == "signature"
    assert RequestStateSigner((KEY_B,)).verify(again, **CALL, caller="alice").state == "t"
