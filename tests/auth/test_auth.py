"""services/auth.py in process: settings, the key set, and every verdict of the authenticator on a fake clock."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from pathlib import Path

import jwt
import pytest

from services.auth import (
    AUTH_ERROR,
    JWKS_RETRY_S,
    AuthConfigError,
    Authenticator,
    AuthSettings,
    Identity,
    KeySet,
    Refusal,
)
from tests.auth.tokens import ISSUER, SCOPE, Issuer

RESOURCE = "https://mcp.example.test/mcp"
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def jwks_file(issuer: Issuer, tmp_path: Path) -> Path:
    return issuer.write_jwks(tmp_path / "jwks.json")


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _env(jwks_file: Path, **extra: str) -> dict[str, str]:
    return {
        "MCP_AUTH_ISSUER": ISSUER,
        "MCP_AUTH_RESOURCE_URL": RESOURCE,
        "MCP_AUTH_JWKS_FILE": str(jwks_file),
        "MCP_AUTH_REQUIRED_SCOPES": SCOPE,
        **extra,
    }


def _authenticator(jwks_file: Path, clock: Clock | None = None, **extra: str) -> Authenticator:
    settings = AuthSettings.from_env(_env(jwks_file, **extra))
    assert settings is not None
    return Authenticator(settings, clock=clock or Clock())


def _refused(verdict: Identity | Refusal, status: int) -> Refusal:
    assert isinstance(verdict, Refusal), verdict
    assert verdict.status == status
    body = json.loads(verdict.body)
    assert body["id"] is None
    assert body["error"]["code"] == AUTH_ERROR
    return verdict


# -- settings --------------------------------------------------------------------------------------------------------


def test_settings_without_issuer_are_off() -> None:
    assert AuthSettings.from_env({}) is None


def test_settings_audience_defaults_to_the_resource_url(jwks_file: Path) -> None:
    settings = AuthSettings.from_env(_env(jwks_file))
    assert settings is not None
    assert settings.audience == RESOURCE
    assert settings.required_scopes == (SCOPE,)


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"MCP_AUTH_RESOURCE_URL": ""}, "MCP_AUTH_RESOURCE_URL"),
        ({"MCP_AUTH_ISSUER": "issuer"}, "MCP_AUTH_ISSUER"),
        ({"MCP_AUTH_JWKS_URL": "https://issuer.example.test/jwks"}, "MCP_AUTH_JWKS_URL"),  # both URL and file
        ({"MCP_AUTH_JWKS_FILE": "/no/such/jwks.json"}, "MCP_AUTH_JWKS_FILE"),
        ({"MCP_AUTH_LEEWAY_S": "soon"}, "MCP_AUTH_LEEWAY_S"),
        ({"MCP_AUTH_RESOURCE_URL": "https://mcp.example.test/mcp#frag"}, "MCP_AUTH_RESOURCE_URL"),
    ],
)
def test_settings_that_cannot_work_are_refused_in_one_line(jwks_file: Path, change: dict[str, str], names: str) -> None:
    with pytest.raises(AuthConfigError) as raised:
        AuthSettings.from_env(_env(jwks_file, **change))
    assert names in str(raised.value)
    assert "\n" not in str(raised.value)


def test_settings_refuse_a_plain_http_jwks_url_off_loopback() -> None:
    env = {"MCP_AUTH_ISSUER": ISSUER, "MCP_AUTH_RESOURCE_URL": RESOURCE, "MCP_AUTH_JWKS_URL": "http://idp.test/jwks"}
    with pytest.raises(AuthConfigError, match="MCP_AUTH_JWKS_URL"):
        AuthSettings.from_env(env)


def test_settings_refuse_auth_variables_without_the_issuer() -> None:
    with pytest.raises(AuthConfigError, match="MCP_AUTH_ISSUER"):
        AuthSettings.from_env({"MCP_AUTH_AUDIENCE": "x"})


def test_settings_refuse_a_jwks_file_without_a_signing_key(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hs"}]}))
    env = {"MCP_AUTH_ISSUER": ISSUER, "MCP_AUTH_RESOURCE_URL": RESOURCE, "MCP_AUTH_JWKS_FILE": str(path)}
    with pytest.raises(AuthConfigError, match="no RS256 or ES256 signing key"):
        AuthSettings.from_env(env)


def test_metadata_names_the_resource_its_issuer_scopes_and_header_bearer(jwks_file: Path) -> None:
    settings = AuthSettings.from_env(_env(jwks_file))
    assert settings is not None
    assert settings.metadata() == {
        "resource": RESOURCE,
        "authorization_servers": [ISSUER],
        "scopes_supported": [SCOPE],
        "bearer_methods_supported": ["header"],
    }
    # RFC 9728, section 3.1: the well-known path goes between the host and the resource's path.
    assert settings.metadata_url == "https://mcp.example.test/.well-known/oauth-protected-resource/mcp"
    assert settings.metadata_paths == (
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    )


# -- verdicts --------------------------------------------------------------------------------------------------------


def test_missing_token_is_refused_with_401_naming_the_metadata_and_scope(jwks_file: Path) -> None:
    refusal = _refused(_authenticator(jwks_file).check(None), 401)
    assert refusal.www_authenticate == (
        f'Bearer resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/mcp", scope="{SCOPE}"'
    )
    assert "error=" not in refusal.www_authenticate


def test_another_scheme_is_refused_like_a_missing_token(jwks_file: Path) -> None:
    refusal = _refused(_authenticator(jwks_file).check("Basic YWxpY2U6c2VjcmV0"), 401)
    assert "error=" not in refusal.www_authenticate


def test_good_token_yields_its_subject_and_scopes(issuer: Issuer, jwks_file: Path) -> None:
    verdict = _authenticator(jwks_file).check("Bearer " + issuer.token(RESOURCE, now=NOW, scope=f"{SCOPE} extra"))
    assert verdict == Identity("alice", frozenset({SCOPE, "extra"}))


def test_good_es256_token_with_scp_list_is_accepted(issuer: Issuer, jwks_file: Path) -> None:
    token = issuer.token(RESOURCE, now=NOW, algorithm="ES256", scope=None, scp=[SCOPE])
    assert _authenticator(jwks_file).check(f"bearer {token}") == Identity("alice", frozenset({SCOPE}))


def test_token_whose_audience_list_names_the_resource_is_accepted(issuer: Issuer, jwks_file: Path) -> None:
    token = issuer.token(["https://other.example.test", RESOURCE], now=NOW)
    assert isinstance(_authenticator(jwks_file).check(f"Bearer {token}"), Identity)


def _invalid(verdict: Identity | Refusal) -> Refusal:
    refusal = _refused(verdict, 401)
    assert refusal.www_authenticate.startswith('Bearer error="invalid_token", ')
    assert 'resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/mcp"' in (
        refusal.www_authenticate
    )
    return refusal


def test_bad_signature_is_an_invalid_token(issuer: Issuer, jwks_file: Path) -> None:
    forged = issuer.token(RESOURCE, now=NOW, key=issuer.stranger)  # kid rsa-1, signed with another key
    assert "signature" in _invalid(_authenticator(jwks_file).check(f"Bearer {forged}")).www_authenticate


def test_tampered_claims_are_an_invalid_token(issuer: Issuer, jwks_file: Path) -> None:
    head, _, rest = issuer.token(RESOURCE, now=NOW, subject="alice").partition(".")
    _, _, signature = rest.partition(".")
    claims = json.loads(base64.urlsafe_b64decode(rest.partition(".")[0] + "=="))
    claims["sub"] = "mallory"
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _invalid(_authenticator(jwks_file).check(f"Bearer {head}.{payload}.{signature}"))


def test_wrong_audience_is_an_invalid_token(issuer: Issuer, jwks_file: Path) -> None:
    token = issuer.token("https://other.example.test/mcp", now=NOW)
    assert "audience" in _invalid(_authenticator(jwks_file).check(f"Bearer {token}")).www_authenticate


def test_token_without_audience_is_an_invalid_token(issuer: Issuer, jwks_file: Path) -> None:
    token = issuer.token(None, now=NOW)  # type: ignore[arg-type]
    _invalid(_authenticator(jwks_file).check(f"Bearer {token}"))


def test_wrong_issuer_is_an_invalid_token(issuer: Issuer, jwks_file: Path) -> None:
    token = issuer.token(RESOURCE, now=NOW, iss="https://evil.example.test")
    assert "issuer" in _invalid(_authenticator(jwks_file).check(f"Bearer {token}")).www_authenticate


def test_expired_token_is_an_invalid_token_after_the_leeway(issuer: Issuer, jwks_file: Path) -> None:
    token = issuer.token(RESOURCE, now=NOW - 600, lifetime_s=590)  # expired 10 s ago
    assert isinstance(_authenticator(jwks_file, Clock()).check(f"Bearer {token}"), Identity)  # within 30 s leeway
    late = _authenticator(jwks_file, Clock(NOW + 25))
    assert "expired" in _invalid(late.check(f"Bearer {token}")).www_authenticate


def test_token_not_valid_yet_is_an_invalid_token(issuer: Issuer, jwks_file: Path) -> None:
    token = issuer.token(RESOURCE, now=NOW, nbf=int(NOW + 120))
    assert "not valid yet" in _invalid(_authenticator(jwks_file).check(f"Bearer {token}")).www_authenticate


def test_token_without_exp_is_an_invalid_token(issuer: Issuer, jwks_file: Path) -> None:
    token = issuer.token(RESOURCE, now=NOW, exp=None)
    _invalid(_authenticator(jwks_file).check(f"Bearer {token}"))


def test_unsigned_and_symmetric_tokens_are_invalid_tokens(jwks_file: Path) -> None:
    claims = {"iss": ISSUER, "aud": RESOURCE, "sub": "alice", "exp": int(NOW + 60), "scope": SCOPE}
    authenticator = _authenticator(jwks_file)
    unsigned = jwt.encode(claims, None, algorithm="none")
    symmetric = jwt.encode(claims, "a-shared-secret-of-some-length-32b", algorithm="HS256", headers={"kid": "rsa-1"})
    for token in (unsigned, symmetric, "not-a-jwt", ""):
        _invalid(authenticator.check(f"Bearer {token}"))


def test_token_signed_with_a_key_of_another_type_is_an_invalid_token(issuer: Issuer, jwks_file: Path) -> None:
    # An ES256 token that names the RSA key: the key never verifies an algorithm it is not for.
    token = issuer.token(RESOURCE, now=NOW, algorithm="ES256", kid="rsa-1")
    _invalid(_authenticator(jwks_file).check(f"Bearer {token}"))


def test_missing_scope_is_refused_with_403_insufficient_scope(issuer: Issuer, jwks_file: Path) -> None:
    token = issuer.token(RESOURCE, now=NOW, scope="mcp:read")
    refusal = _refused(_authenticator(jwks_file).check(f"Bearer {token}"), 403)
    assert refusal.www_authenticate.startswith(f'Bearer error="insufficient_scope", scope="{SCOPE}", ')
    assert "resource_metadata=" in refusal.www_authenticate


def test_without_required_scopes_any_valid_token_passes(issuer: Issuer, jwks_file: Path) -> None:
    token = issuer.token(RESOURCE, now=NOW, scope=None)
    verdict = _authenticator(jwks_file, MCP_AUTH_REQUIRED_SCOPES="").check(f"Bearer {token}")
    assert verdict == Identity("alice", frozenset())


def test_remembered_verdict_ends_with_the_token(issuer: Issuer, jwks_file: Path) -> None:
    clock = Clock()
    authenticator = _authenticator(jwks_file, clock)
    token = issuer.token(RESOURCE, now=NOW, lifetime_s=60)
    assert isinstance(authenticator.check(f"Bearer {token}"), Identity)
    clock.now = NOW + 60 + 31  # past exp and the 30 s leeway
    assert "expired" in _invalid(authenticator.check(f"Bearer {token}")).www_authenticate


# -- keys from a URL -------------------------------------------------------------------------------------------------


def test_keys_from_a_url_are_fetched_again_when_a_token_names_an_unknown_key(issuer: Issuer) -> None:
    documents = [{"keys": []}, issuer.jwks()]  # the issuer publishes its key after the server started
    stored = threading.Event()
    clock = Clock()

    def fetch(url: str) -> bytes:
        assert url == "https://issuer.example.test/jwks"
        return json.dumps(documents.pop(0)).encode()

    keys = KeySet(url="https://issuer.example.test/jwks", clock=clock, fetch=fetch)  # no usable key yet
    assert keys.find("rsa-1", "RS256") is None
    clock.now += JWKS_RETRY_S + 1
    original = keys._refresh

    def refresh() -> None:
        original()
        stored.set()

    keys._refresh = refresh  # type: ignore[method-assign]
    keys.find("rsa-1", "RS256")  # unknown: a refresh starts in the background, the request goes on at once
    assert stored.wait(5)
    assert keys.find("rsa-1", "RS256") is not None
    assert documents == []


def test_keys_from_a_url_are_not_fetched_more_than_once_per_retry_interval(issuer: Issuer) -> None:
    calls: list[str] = []
    clock = Clock()

    def fetch(url: str) -> bytes:
        calls.append(url)
        return json.dumps(issuer.jwks()).encode()

    keys = KeySet(url="https://issuer.example.test/jwks", clock=clock, fetch=fetch)
    assert calls == ["https://issuer.example.test/jwks"]
    clock.now += JWKS_RETRY_S / 2
    assert keys.find("unknown", "RS256") is None  # within the retry interval of the start: no new fetch
    assert len(calls) == 1


def test_keys_from_a_loopback_url_are_fetched_at_start(issuer: Issuer) -> None:
    body = json.dumps(issuer.jwks()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.handle_request, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks"
        settings = AuthSettings.from_env(
            {"MCP_AUTH_ISSUER": ISSUER, "MCP_AUTH_RESOURCE_URL": RESOURCE, "MCP_AUTH_JWKS_URL": url}
        )
        assert settings is not None
        authenticator = Authenticator(settings, clock=Clock())
        thread.join(5)
    token = issuer.token(RESOURCE, now=NOW, algorithm="ES256")
    assert authenticator.check(f"Bearer {token}") == Identity("alice", frozenset({SCOPE}))
