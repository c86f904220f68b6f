"""An OIDC token (a JWT) checked against a registered provider as STS AssumeRoleWithOIDC does:
the issuer first (the provider is found by its ARN, its issuer compared with the token's),
then the signature with the issuer's key, the times (``exp``, ``nbf``, ``iat``) and the
audience (one of the provider's client ids). PyJWT does the cryptography; it is imported when a
token or a key is checked, so the tool's start-up never pays for it.

Codes: ``AuthenticationFail.OIDCToken.Expired`` ("This JsonWebToken is expired."),
``.AudienceNotMatch``, ``.IssuerNotMatch`` and ``.Invalid`` (a bad signature, an unsigned or
malformed token, a token not yet valid or issued in the future, a claim missing), all HTTP 401
as STS answers the same failures of AssumeRoleWithSAML (the OIDC page documents the codes, not
their statuses).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.emulator.protocol import ApiError
from reconciler.emulator.store import OidcProviderRecord

if TYPE_CHECKING:
    from jwt import PyJWK

# Asymmetric algorithms only: "none" and the HMAC ones (whose "key" would be public) are refused.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat")
MIN_TOKEN_LENGTH = 4
MAX_TOKEN_LENGTH = 20_000


@dataclass(frozen=True)
class VerifiedToken:
    subject: str
    issuer: str
    audience: tuple[str, ...]
    issued_at: int
    expires_at: int


def _failure(kind: str, message: str) -> ApiError:
    return ApiError(401, f"AuthenticationFail.OIDCToken.{kind}", message)


def _invalid(reason: str) -> ApiError:
    return _failure("Invalid", f"The OIDC token is invalid: {reason}.")


def check_issuer_key(public_key: str | None, jwks: str | None) -> None:
    """Raise ValueError unless exactly one of a PEM public key and a JWKS is given and loads."""
    if (public_key is None) == (jwks is None):
        raise ValueError("an OIDC provider needs one of public_key and jwks")
    import jwt  # noqa: PLC0415 (see the module docstring)
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
        load_pem_public_key,
    )

    try:
        if public_key is not None:
            load_pem_public_key(public_key.encode("utf-8"))
        else:
            assert jwks is not None
            jwt.PyJWKSet.from_json(jwks)
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        # cryptography's own words run to a paragraph and a URL: the file needs only this.
        if public_key is not None:
            raise ValueError("public_key is not a PEM public key") from exc
        raise ValueError(f"jwks is not a JSON Web Key Set: {exc}") from exc


def verify_token(token: str, provider: OidcProviderRecord) -> VerifiedToken:
    """The token's claims when it holds for ``provider`` now (the wall clock, as PyJWT reads
    it, with no leeway); else the ApiError STS answers."""
    import jwt  # noqa: PLC0415 (see the module docstring)

    if not MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH:
        raise _invalid(f"it must be {MIN_TOKEN_LENGTH} to {MAX_TOKEN_LENGTH} characters")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _invalid(f"not a signed JWT ({exc})") from exc
    if unverified.get("iss") != provider.issuer:
        raise _failure(
            "IssuerNotMatch",
            "The issuer in the OIDC Token doesn't match the OIDC Provider registered.",
        )
    if header.get("alg") not in ALGORITHMS:
        raise _invalid(f"algorithm {header.get('alg')!r} is not accepted")
    key = _signing_key(provider, header)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(ALGORITHMS),
            audience=list(provider.client_ids),
            issuer=provider.issuer,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError as exc:
        raise _failure("Expired", "This JsonWebToken is expired.") from exc
    except jwt.InvalidAudienceError as exc:
        raise _failure("AudienceNotMatch", "Invalid audience.") from exc
    except jwt.InvalidSignatureError as exc:
        raise _invalid("the signature does not verify with the issuer's key") from exc
    except jwt.ImmatureSignatureError as exc:
        raise _invalid("it is not valid yet (nbf)") from exc
    except jwt.InvalidIssuedAtError as exc:
        raise _invalid("it was issued in the future (iat)") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise _invalid(f"claim {exc.claim} is missing") from exc
    except jwt.PyJWTError as exc:
        raise _invalid(str(exc).rstrip(".")) from exc
    audience = claims["aud"]
    return VerifiedToken(
        subject=str(claims["sub"]),
        issuer=str(claims["iss"]),
        audience=tuple(audience) if isinstance(audience, list) else (str(audience),),
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
    )


def _signing_key(provider: OidcProviderRecord, header: dict[str, Any]) -> Any:
    """The issuer's key for this token: the PEM key, or the JWKS entry named by ``kid`` (the
    only entry when the token names none)."""
    import jwt  # noqa: PLC0415

    if provider.public_key is not None:
        return provider.public_key
    assert provider.jwks is not None
    keys: list[PyJWK] = jwt.PyJWKSet.from_dict(json.loads(provider.jwks)).keys
    kid = header.get("kid")
    if kid is None and len(keys) == 1:
        return keys[0]
    for key in keys:
        if key.key_id == kid:
            return key
    raise _invalid(f"no key of the issuer has kid {kid!r}")
