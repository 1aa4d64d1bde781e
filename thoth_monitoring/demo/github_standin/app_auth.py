"""GitHub App authentication as GitHub checks it: the app signs a short JWT (RS256, ``iss`` its
id, ``exp`` at most ten minutes after ``iat``) and trades it for an installation token."""

from typing import Any

import jwt

MAX_JWT_LIFETIME = 600  # seconds GitHub allows between iat and exp


class BadJWT(Exception):
    """The JWT is not one GitHub would accept; the message is what it answers."""


def verify_app_jwt(token: str, public_key: str, app_id: int, now: float) -> None:
    """Check signature, issuer and lifetime against ``now`` (the stand-in's clock, not
    PyJWT's, so that tests can move time)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, public_key, algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"], "verify_exp": False, "verify_iat": False},
        )  # fmt: skip
    except jwt.PyJWTError as error:
        raise BadJWT("A JSON web token could not be decoded") from error
    if str(claims["iss"]) != str(app_id):  # GitHub takes the id as a number or a string
        raise BadJWT(f"'Issuer' claim ('iss') must be the app's id {app_id}")
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise BadJWT("'Issued at' and 'Expiration time' claims must be numbers")
    if exp - iat > MAX_JWT_LIFETIME:
        raise BadJWT("'Expiration time' claim ('exp') is too far in the future")
    if exp <= now:
        raise BadJWT("'Expiration time' claim ('exp') must be a numeric value representing the "
                     "future time at which the assertion expires")  # fmt: skip
