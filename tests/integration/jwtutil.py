"""Hand-made JWTs for attacking the API's token checks."""
import base64
import hashlib
import hmac
import json
import time


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_of(token):
    return json.loads(b64url_decode(token.split(".")[1]))


def sign(secret: bytes, claims: dict, alg="HS256", header=None) -> str:
    head = {"alg": alg, "typ": "JWT", **(header or {})}
    signing = b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode())
    if alg == "none":
        return signing + "."
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    mac = hmac.new(secret, signing.encode(), digest).digest()
    return signing + "." + b64url(mac)


def secret_of(stack) -> bytes:
    return (stack.state / "jwt.secret").read_bytes().rstrip()


def access_claims(user_id, gen=0, issuer="mod_meeting", ttl=600, **over):
    now = int(time.time())
    c = {"iss": issuer, "sub": str(user_id), "typ": "access", "jti": "t" + str(now),
         "iat": now, "exp": now + ttl, "gen": gen}
    c.update(over)
    return c
