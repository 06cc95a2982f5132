"""Our HS256 tokens are standard JWTs: PyJWT verifies ours, and we verify PyJWT's."""

import time

import jwt
import pytest

from chalicelib.api.auth import decode, mint_token, principal_from_header
from chalicelib.config import auth_secret
from chalicelib.domain.errors import Unauthorized


def test_minted_token_is_a_standard_hs256_jwt():
    claims = jwt.decode(mint_token("customer", "acme"), auth_secret(), algorithms=["HS256"])
    assert claims["sub"] == "acme" and claims["role"] == "customer"


def test_pyjwt_token_is_accepted_and_gives_the_principal():
    token = jwt.encode({"sub": "acme", "role": "customer", "exp": int(time.time()) + 60},
                       auth_secret(), algorithm="HS256")
    p = principal_from_header(f"Bearer {token}")
    assert p.role == "customer" and p.account_id == "acme"


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode({"sub": "a", "role": "operator", "exp": int(time.time()) - 1}, auth_secret()),
        jwt.encode({"sub": "a", "role": "operator", "exp": int(time.time()) + 60}, "wrong-secret"),
        jwt.encode({"sub": "a", "role": "operator"}, auth_secret()),
        "not.a.token",
        "garbage",
    ],
)
def test_bad_tokens_are_refused(token):
    with pytest.raises(Unauthorized):
        decode(token, auth_secret(), time.time())
