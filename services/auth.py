"""Optional bearer-token authentication: the MCP endpoint as an OAuth 2.1 resource server, written once for both
servers.

Off unless `MCP_AUTH_ISSUER` is set. Then every request to the MCP endpoint needs `Authorization: Bearer <JWT>`:
an access token signed by the issuer (RS256 or ES256, keys from a JWKS file or URL), with `iss` the issuer, `aud`
naming this resource (the audience check is mandatory), `exp` in the future and `nbf` (if any) in the past, with a
small leeway, a `sub`, and every required scope in `scope` (space-separated, RFC 9068) or `scp` (a list). The
answers (`Refusal`) follow the MCP authorization specification (2025-11-25) with RFC 6750 and RFC 9728:

- no token: 401, `WWW-Authenticate: Bearer resource_metadata="…"` (and the required `scope`);
- a token that is not valid: 401 with `error="invalid_token"`;
- a valid token without a required scope: 403 with `error="insufficient_scope"` and `scope="…"`;

each with a JSON-RPC error body (id null) like the servers' other refusals. The protected resource metadata
(RFC 9728) is served at `/.well-known/oauth-protected-resource` and at the form with the endpoint's path appended.

Free of any web framework; the servers adapt it (`services/mcp_server/guard.py`, `services/fastapi_baseline/auth.py`).
The JWT library (PyJWT with `cryptography`) is imported only when authentication is on, so the default cold start
does not load it. Public sources: MCP specification 2025-11-25, "Authorization"
<https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization>; RFC 9728 "OAuth 2.0 Protected
Resource Metadata"; RFC 6750 "The OAuth 2.0 Authorization Framework: Bearer Token Usage"; RFC 9068 "JSON Web Token
(JWT) Profile for OAuth 2.0 Access Tokens".
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from services.protocol import INVALID_REQUEST

log = logging.getLogger("mcpstack.auth")

METADATA_PATH = "/.well-known/oauth-protected-resource"
ALGORITHMS = ("RS256", "ES256")  # asymmetric only: a resource server that holds a signing secret could mint tokens
DEFAULT_LEEWAY_S = 30.0
JWKS_REFRESH_S = 3600.0  # keys fetched from a URL are renewed this often (in the background)
JWKS_RETRY_S = 30.0  # at most one fetch per this interval when a token names an unknown key
JWKS_TIMEOUT_S = 5.0
VERDICT_CACHE_SIZE = 1024  # tokens verified recently: a client sends the same token on every request
VERDICT_CACHE_S = 300.0  # a cached verdict is reused at most this long (and never past the token's expiry)
AUTH_ERROR = INVALID_REQUEST  # the JSON-RPC code of 401 and 403 bodies, as for the Host and Origin refusals


class AuthConfigError(ValueError):
    """An authentication setting that cannot work: the message is the one line the operator sees."""


@dataclass(frozen=True, slots=True)
class AuthSettings:
    issuer: str
    audience: str
    resource_url: str
    required_scopes: tuple[str, ...] = ()
    jwks_url: str | None = None
    jwks_file: str | None = None
    leeway_s: float = DEFAULT_LEEWAY_S

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuthSettings | None:
        """The settings from `MCP_AUTH_*`, or None when `MCP_AUTH_ISSUER` is not set (authentication off)."""
        issuer = (env.get("MCP_AUTH_ISSUER") or "").strip()
        if not issuer:
            others = sorted(k for k in env if k.startswith("MCP_AUTH_") and env[k].strip())
            if others:
                raise AuthConfigError(
                    f"{', '.join(others)} set without MCP_AUTH_ISSUER (which turns authentication on)"
                )
            return None
        resource_url = (env.get("MCP_AUTH_RESOURCE_URL") or "").strip()
        leeway = (env.get("MCP_AUTH_LEEWAY_S") or "").strip()
        try:
            leeway_s = float(leeway) if leeway else DEFAULT_LEEWAY_S
        except ValueError:
            raise AuthConfigError(f"MCP_AUTH_LEEWAY_S={leeway!r} is not a number") from None
        settings = cls(
            issuer=issuer,
            audience=(env.get("MCP_AUTH_AUDIENCE") or "").strip() or resource_url,
            resource_url=resource_url,
            required_scopes=tuple((env.get("MCP_AUTH_REQUIRED_SCOPES") or "").split()),
            jwks_url=(env.get("MCP_AUTH_JWKS_URL") or "").strip() or None,
            jwks_file=(env.get("MCP_AUTH_JWKS_FILE") or "").strip() or None,
            leeway_s=leeway_s,
        )
        settings.validate()
        if settings.jwks_file is not None:
            KeySet(file=settings.jwks_file)  # a file that cannot serve stops the start here, in one line
        return settings

    def validate(self) -> None:
        if not _is_url(self.issuer):
            raise AuthConfigError(f"MCP_AUTH_ISSUER must be an http(s) URL, got {self.issuer!r}")
        if not self.resource_url:
            raise AuthConfigError("MCP_AUTH_RESOURCE_URL (the public URL of the MCP endpoint) is required with auth on")
        if not _is_url(self.resource_url) or urlsplit(self.resource_url).fragment:
            raise AuthConfigError(
                f"MCP_AUTH_RESOURCE_URL must be an http(s) URL without a fragment: {self.resource_url!r}"
            )
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise AuthConfigError("set exactly one of MCP_AUTH_JWKS_URL and MCP_AUTH_JWKS_FILE (the issuer's keys)")
        if self.jwks_url is not None and not _is_url(self.jwks_url, https_unless_local=True):
            raise AuthConfigError(f"MCP_AUTH_JWKS_URL must be an https URL (http only on loopback): {self.jwks_url!r}")
        if not 0 <= self.leeway_s <= 300:
            raise AuthConfigError(f"MCP_AUTH_LEEWAY_S must be 0-300 seconds, got {self.leeway_s}")

    @property
    def resource_path(self) -> str:
        """The path of the resource URL (`/mcp`), "" for a bare origin."""
        return urlsplit(self.resource_url).path.rstrip("/")

    @property
    def metadata_url(self) -> str:
        """Where the metadata of this resource lives (RFC 9728, section 3.1: the well-known path, then the
        resource's own path)."""
        parts = urlsplit(self.resource_url)
        return f"{parts.scheme}://{parts.netloc}{METADATA_PATH}{self.resource_path}"

    @property
    def metadata_paths(self) -> tuple[str, ...]:
        """The paths the metadata is served at: the path-suffixed form and the bare well-known path."""
        suffixed = METADATA_PATH + self.resource_path
        return (suffixed,) if suffixed == METADATA_PATH else (suffixed, METADATA_PATH)

    def metadata(self) -> dict[str, Any]:
        return {
            "resource": self.resource_url,
            "authorization_servers": [self.issuer],
            "scopes_supported": list(self.required_scopes),
            "bearer_methods_supported": ["header"],
        }


def _is_url(value: str, *, https_unless_local: bool = False) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return not (
        https_unless_local and parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1")
    )


@dataclass(frozen=True, slots=True)
class Identity:
    """The authenticated client: its `sub`, and the scopes its token grants."""

    subject: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused request: the status, the `WWW-Authenticate` value and the JSON-RPC error body (id null)."""

    status: int
    www_authenticate: str
    body: bytes


def error_body(code: int, message: str) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}, separators=(",", ":")
    ).encode()


class KeySet:
    """The issuer's verification keys (a JWKS), by key id. From a file: read once at start. From a URL: fetched at
    start, renewed in the background every `JWKS_REFRESH_S`, and at once (at most every `JWKS_RETRY_S`) when a
    token names a key id not in the set (the issuer rotated its keys). A fetch never blocks a request."""

    def __init__(
        self,
        *,
        url: str | None = None,
        file: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str], bytes] | None = None,
    ) -> None:
        self._url = url
        self._clock = clock
        self._fetch = fetch or _http_get
        self._keys: dict[str | None, Any] = {}
        self._fetched_at = -1e18
        self._attempted_at = -1e18
        self._lock = threading.Lock()
        self._fetching = False
        if file is not None:
            try:
                with open(file, "rb") as source:
                    raw = source.read()
            except OSError as ex:
                raise AuthConfigError(f"MCP_AUTH_JWKS_FILE={file!r} cannot be read: {ex.strerror}") from None
            try:
                self._keys = parse_jwks(raw)
            except ValueError as ex:
                raise AuthConfigError(f"MCP_AUTH_JWKS_FILE={file!r}: {ex}") from None
            self._fetched_at = float("inf")  # never renewed
        elif url is not None:
            self._refresh()  # at start, in line: a worker that serves knows its keys when the issuer answered
            if not self._keys:
                log.warning("JWKS not available yet from %s: tokens are refused until it is", url)

    def find(self, kid: str | None, algorithm: str) -> Any | None:
        """The PyJWK for a token's `kid` and `alg`, or None."""
        now = self._clock()
        if self._url is not None and now - self._fetched_at > JWKS_REFRESH_S:
            self._refresh_in_background(now)
        key = self._keys.get(kid) if kid is not None else _only_key(self._keys, algorithm)
        if key is None and kid is not None and self._url is not None:
            self._refresh_in_background(now)
        if key is None or not _usable(key, algorithm):
            return None
        return key

    def _refresh_in_background(self, now: float) -> None:
        with self._lock:
            if self._fetching or now - self._attempted_at < JWKS_RETRY_S:
                return
            self._fetching = True
        threading.Thread(target=self._refresh, name="jwks-refresh", daemon=True).start()

    def _refresh(self) -> None:
        assert self._url is not None
        self._attempted_at = self._clock()
        try:
            self._keys = parse_jwks(self._fetch(self._url))
            self._fetched_at = self._clock()
        except (OSError, ValueError) as ex:
            log.warning("JWKS fetch from %s failed: %s", self._url, ex)
        finally:
            self._fetching = False


def _http_get(url: str) -> bytes:
    import urllib.request  # only when keys come from a URL

    with urllib.request.urlopen(url, timeout=JWKS_TIMEOUT_S) as response:  # noqa: S310 (the URL is checked: http(s))
        body: bytes = response.read(1_048_576)
        return body


def parse_jwks(raw: bytes) -> dict[str | None, Any]:
    """The usable keys of a JWKS document by `kid`; raises ValueError (one line) when there is none."""
    import jwt

    try:
        document = json.loads(raw)
    except ValueError:
        raise ValueError("not a JSON document") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('not a JWKS document (an object with a "keys" list)')
    keys: dict[str | None, Any] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or "d" in entry or "k" in entry:
            continue  # encryption keys, private or symmetric keys are never verification keys here
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
        if key.algorithm_name in ALGORITHMS:
            keys[entry.get("kid")] = key
    if not keys:
        raise ValueError("no RS256 or ES256 signing key in the JWKS")
    return keys


def _only_key(keys: dict[str | None, Any], algorithm: str) -> Any | None:
    """A token without `kid` may use the set's only key of its type (issuers with one key often omit the kid)."""
    candidates = [key for key in keys.values() if _usable(key, algorithm)]
    return candidates[0] if len(candidates) == 1 else None


def _usable(key: Any, algorithm: str) -> bool:
    """The key is for the token's algorithm: its own `alg`, or the one its type and curve imply (no algorithm
    confusion: an RSA key never verifies an ES256 token, a P-384 key never an ES256 one)."""
    return bool(key.algorithm_name == algorithm)


class Authenticator:
    """Checks the `Authorization` header of a request to the MCP endpoint: an `Identity`, or the `Refusal` to send.

    Verified tokens are remembered (bounded, `VERDICT_CACHE_S`, never past `exp`): a client sends the same token on
    every request, and a signature check costs tens of microseconds."""

    def __init__(self, settings: AuthSettings, *, keys: KeySet | None = None, clock: Callable[[], float] = time.time):
        import jwt  # only with authentication on: the default start never loads the JWT library

        self._jwt = jwt
        self.settings = settings
        self._clock = clock
        self._keys = keys or KeySet(url=settings.jwks_url, file=settings.jwks_file)
        self._required = frozenset(settings.required_scopes)
        self._verdicts: dict[str, tuple[Identity, float]] = {}
        metadata = f'resource_metadata="{settings.metadata_url}"'
        scope = f', scope="{" ".join(settings.required_scopes)}"' if settings.required_scopes else ""
        self.missing = Refusal(
            401, f"Bearer {metadata}{scope}", error_body(AUTH_ERROR, "Unauthorized: a bearer token is required")
        )
        self._metadata = metadata
        self._insufficient = Refusal(
            403,
            f'Bearer error="insufficient_scope"{scope}, {metadata}, '
            'error_description="the token lacks a required scope"',
            error_body(AUTH_ERROR, f"Forbidden: insufficient scope (required: {' '.join(settings.required_scopes)})"),
        )
        self.metadata_body = json.dumps(settings.metadata(), separators=(",", ":")).encode()

    def check(self, authorization: str | None) -> Identity | Refusal:
        if authorization is None:
            return self.missing
        now = self._clock()
        cached = self._verdicts.get(authorization)  # by the whole header value: a client repeats it verbatim
        if cached is not None and now < cached[1]:
            identity = cached[0]
        else:
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() != "bearer":
                return self.missing  # another scheme is no bearer token (RFC 6750, section 3: no error code)
            verdict = self._verify(token.strip(), now)
            if isinstance(verdict, Refusal):
                return verdict
            identity, until = verdict
            if len(self._verdicts) >= VERDICT_CACHE_SIZE:
                self._verdicts.clear()
            self._verdicts[authorization] = (identity, until)
        if not self._required <= identity.scopes:
            return self._insufficient
        return identity

    def _verify(self, token: str, now: float) -> tuple[Identity, float] | Refusal:
        """The identity a token proves and until when that verdict may be reused, or the refusal."""
        jwt = self._jwt
        if not token:
            return self._invalid("no token after Bearer")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return self._invalid("the token is not a JWT")
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            return self._invalid("the token's algorithm is not accepted")
        kid = header.get("kid")
        key = self._keys.find(kid if isinstance(kid, str) else None, algorithm)
        if key is None:
            return self._invalid("the token's signing key is unknown")
        settings = self.settings
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=settings.audience,
                issuer=settings.issuer,
                # exp and nbf are checked below on this authenticator's clock (one clock for them and the cache); iat is
                # informative only (RFC 9068), a skewed clock at the issuer must not refuse a valid token
                options={
                    "require": ["exp", "iss", "aud", "sub"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidAudienceError:
            return self._invalid("the token's audience is not this resource")
        except jwt.InvalidIssuerError:
            return self._invalid("the token is from another issuer")
        except jwt.InvalidSignatureError:
            return self._invalid("the token's signature does not verify")
        except jwt.MissingRequiredClaimError as ex:
            return self._invalid(f"the token has no {ex.claim} claim")
        except jwt.PyJWTError:
            return self._invalid("the token is malformed")
        expires_at, not_before = claims["exp"], claims.get("nbf", 0)
        if not _is_number(expires_at) or not _is_number(not_before):
            return self._invalid("the token's exp or nbf is not a number")
        expires = float(expires_at) + settings.leeway_s
        if now >= expires:
            return self._invalid("the token has expired")
        if now + settings.leeway_s < float(not_before):
            return self._invalid("the token is not valid yet")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            return self._invalid("the token has no subject")
        return Identity(subject, _scopes(claims)), min(expires, now + VERDICT_CACHE_S)

    def _invalid(self, why: str) -> Refusal:
        return Refusal(
            401,
            f'Bearer error="invalid_token", error_description="{why}", {self._metadata}',
            error_body(AUTH_ERROR, f"Unauthorized: invalid token ({why})"),
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list):
        return frozenset(s for s in scp if isinstance(s, str))
    if isinstance(scp, str):
        return frozenset(scp.split())
    return frozenset()
