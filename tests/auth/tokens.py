"""An issuer for the tests: keys generated per session, a JWKS file, and access tokens signed on demand."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://issuer.example.test"
SCOPE = "mcp:tools"


class Issuer:
    """An RSA key (kid "rsa-1") and an EC P-256 key (kid "ec-1") in the JWKS, and an RSA key outside it."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key()))
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec.public_key()))
        return {
            "keys": [
                {**rsa_jwk, "kid": "rsa-1", "use": "sig", "alg": "RS256"},
                {**ec_jwk, "kid": "ec-1", "use": "sig", "alg": "ES256"},
            ]
        }

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def token(
        self,
        audience: str | list[str],
        *,
        subject: str = "alice",
        scope: str | None = SCOPE,
        lifetime_s: float = 600,
        now: float | None = None,
        algorithm: str = "RS256",
        key: Any = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        issued = time.time() if now is None else now
        payload: dict[str, Any] = {"iss": ISSUER, "aud": audience, "sub": subject, "iat": int(issued)}
        payload["exp"] = int(issued + lifetime_s)
        if scope is not None:
            payload["scope"] = scope
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        if key is None:
            key = self.ec if algorithm == "ES256" else self.rsa
        if kid is None:
            kid = "ec-1" if algorithm == "ES256" else "rsa-1"
        return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})
