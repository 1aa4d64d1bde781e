"""The GitHub client's App authentication: an installation token is reused until shortly
before it expires, renewed then, and renewed at once when GitHub refuses it."""

import time

from thoth_monitoring.core.github import AppInstallation, GitHubApp


class _App:
    """Hands out numbered tokens, each valid for ``lifetime`` seconds."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.issued = 0

    async def installation_token(self, installation_id: str) -> tuple[str, float]:
        self.issued += 1
        return f"ghs_{installation_id}_{self.issued}", time.time() + self.lifetime


async def test_a_token_is_reused_until_shortly_before_it_expires() -> None:
    app = _App(lifetime=3600)
    auth = AppInstallation(app, "7")  # type: ignore[arg-type]
    assert [await auth.header() for _ in range(3)] == ["Bearer ghs_7_1"] * 3
    assert app.issued == 1
    app.lifetime = AppInstallation.RENEW_BEFORE - 1  # tokens now expire too soon to keep
    auth.forget()
    assert await auth.header() == "Bearer ghs_7_2"
    assert await auth.header() == "Bearer ghs_7_3"  # inside the renewal margin: renewed


async def test_a_refused_token_is_forgotten_and_renewed() -> None:
    app = _App(lifetime=3600)
    auth = AppInstallation(app, "7")  # type: ignore[arg-type]
    await auth.header()
    assert auth.forget() is True  # worth one more try
    assert await auth.header() == "Bearer ghs_7_2"


async def test_the_app_jwt_names_the_app_and_lives_under_ten_minutes() -> None:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()  # fmt: skip
    app = GitHubApp("4242", pem, lambda auth: None)  # type: ignore[arg-type,return-value]
    token = (await app.header()).removeprefix("Bearer ")
    claims = jwt.decode(token, key.public_key(), algorithms=["RS256"])
    assert claims["iss"] == "4242"
    assert 0 < claims["exp"] - claims["iat"] <= 600
    assert (await app.header()).removeprefix("Bearer ") == token  # reused while valid
