"""ID-token checks of the OpenID Connect adapter against a real provider's discovery and JWKS
(oidc-provider on loopback): each forged case is refused with its own code."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from tests.accounts.identity.provider import CLIENT_ID, CLIENT_SECRET, LocalProvider, new_key
from workflows.accounts.identity.adapter import IdentityRefused
from workflows.accounts.identity.config import check_issuer
from workflows.accounts.identity.oidc import OidcAdapter

NONCE = "n-0S6_WzA2Mj"


class CountingTransport(httpx.HTTPTransport):
    """Counts the requests made to each path (to see the JWKS fetched again, once)."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


@pytest.fixture
def transport() -> CountingTransport:
    return CountingTransport()


def _adapter(provider: LocalProvider, transport: CountingTransport) -> OidcAdapter:
    http = httpx.Client(transport=transport, timeout=10)
    return OidcAdapter(
        issuer=provider.issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, http=http
    )


@pytest.fixture
def adapter(provider: LocalProvider, transport: CountingTransport) -> OidcAdapter:
    return _adapter(provider, transport)


def _now() -> tuple[datetime, int]:
    now = datetime.now(UTC).replace(microsecond=0)
    return now, int(now.timestamp())


def _refused(adapter: OidcAdapter, token: str, now: datetime, nonce: str = NONCE) -> str:
    with pytest.raises(IdentityRefused) as caught:
        adapter.validate_id_token(token, nonce, now)
    return caught.value.code


def test_discovery_names_the_provider_endpoints(
    adapter: OidcAdapter, provider: LocalProvider
) -> None:
    """Discovery is read from the issuer; the sign-in request carries PKCE S256, state, nonce."""
    sent = adapter.begin("http://testserver/login/sso/callback")
    assert sent.url.startswith(provider.issuer + "/auth?")
    for part in ("code_challenge_method=S256", "response_type=code", f"state={sent.state}"):
        assert part in sent.url
    assert adapter.metadata()["end_session_endpoint"] == provider.issuer + "/session/end"
    assert len(sent.secrets["code_verifier"]) >= 43 and sent.secrets["nonce"] in sent.url


def test_a_genuine_token_is_accepted(adapter: OidcAdapter, provider: LocalProvider) -> None:
    """Signed with the provider's published key, for us, fresh, with our nonce: accepted."""
    now, ts = _now()
    claims = adapter.validate_id_token(provider.sign(provider.claims(NONCE, ts)), NONCE, now)
    assert claims["sub"] == "alice"


def test_forged_signature_is_refused(adapter: OidcAdapter, provider: LocalProvider) -> None:
    """A genuine token whose payload was changed no longer matches its signature."""
    now, ts = _now()
    genuine = provider.sign(provider.claims(NONCE, ts))
    forged_payload = provider.sign(provider.claims(NONCE, ts, sub="admin")).split(".")[1]
    head, _, signature = genuine.split(".")
    assert _refused(adapter, f"{head}.{forged_payload}.{signature}", now) == "sso_bad_signature"


def test_wrong_audience_is_refused(adapter: OidcAdapter, provider: LocalProvider) -> None:
    """A token the provider issued to another client is not ours."""
    now, ts = _now()
    token = provider.sign(provider.claims(NONCE, ts, aud="another-client"))
    assert _refused(adapter, token, now) == "sso_wrong_audience"


def test_another_issuer_is_refused(adapter: OidcAdapter, provider: LocalProvider) -> None:
    """A token naming another issuer is refused even when its signature holds."""
    now, ts = _now()
    token = provider.sign(provider.claims(NONCE, ts, iss="https://idp.elsewhere.example"))
    assert _refused(adapter, token, now) == "sso_wrong_issuer"


def test_expiry_has_a_small_leeway(adapter: OidcAdapter, provider: LocalProvider) -> None:
    """Expired 30 s ago: accepted (60 s leeway); expired 2 minutes ago: refused."""
    now, ts = _now()
    almost = provider.sign(provider.claims(NONCE, ts - 700, exp=ts - 30))
    assert adapter.validate_id_token(almost, NONCE, now)["sub"] == "alice"
    expired = provider.sign(provider.claims(NONCE, ts - 700, exp=ts - 120))
    assert _refused(adapter, expired, now) == "sso_expired"


def test_nonce_of_another_sign_in_is_refused(adapter: OidcAdapter, provider: LocalProvider) -> None:
    """A token minted for another sign-in (its nonce) cannot finish this one."""
    now, ts = _now()
    token = provider.sign(provider.claims("someone-elses-nonce", ts))
    assert _refused(adapter, token, now) == "sso_bad_nonce"


def test_none_and_symmetric_algorithms_are_refused(
    adapter: OidcAdapter, provider: LocalProvider
) -> None:
    """alg=none and HS256 (keyed with something an attacker may know) are never accepted."""
    now, ts = _now()
    hs = jwt.encode({"alg": "HS256"}, provider.claims(NONCE, ts), OctKey.import_key(b"k" * 32))
    assert _refused(adapter, hs, now) == "sso_bad_algorithm"
    head = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    body = provider.sign(provider.claims(NONCE, ts)).split(".")[1]
    assert _refused(adapter, f"{head}.{body}.", now) == "sso_bad_algorithm"


def test_unknown_kid_is_fetched_for_once_then_refused(
    adapter: OidcAdapter, provider: LocalProvider, transport: CountingTransport
) -> None:
    """A token signed with a key the provider never published: the JWKS is fetched again once,
    the token refused; a second such token does not make it fetch again."""
    now, ts = _now()
    adapter.validate_id_token(provider.sign(provider.claims(NONCE, ts)), NONCE, now)
    assert transport.paths.count("/jwks") == 1
    stranger = new_key("attacker")
    for _ in range(2):
        token = provider.sign(provider.claims(NONCE, ts), key=stranger)
        assert _refused(adapter, token, now) == "sso_unknown_key"
    assert transport.paths.count("/jwks") == 2


def test_rotated_key_is_accepted_after_one_refetch(
    own_provider: LocalProvider, transport: CountingTransport
) -> None:
    """The provider rotates its key (restart with a new first key): the adapter's cached JWKS
    lacks it, fetches the JWKS once more and accepts the token; the old key is still accepted
    while the provider lists it."""
    provider = own_provider
    adapter = _adapter(provider, transport)
    now, ts = _now()
    old = provider.keys[0]
    adapter.validate_id_token(provider.sign(provider.claims(NONCE, ts)), NONCE, now)
    new = provider.rotate(keep_old=True)
    claims = adapter.validate_id_token(provider.sign(provider.claims(NONCE, ts)), NONCE, now)
    assert claims["sub"] == "alice" and transport.paths.count("/jwks") == 2
    assert adapter.validate_id_token(provider.sign(provider.claims(NONCE, ts), old), NONCE, now)
    provider.rotate(keep_old=False)
    newest = provider.keys[0]
    assert newest.kid != new.kid
    adapter.validate_id_token(provider.sign(provider.claims(NONCE, ts)), NONCE, now)
    assert transport.paths.count("/jwks") == 3


def test_issuer_must_be_https_outside_loopback() -> None:
    """An http issuer is refused unless it is this machine (the tests' provider)."""
    check_issuer("https://idp.gov.example")
    check_issuer("http://127.0.0.1:9000")
    with pytest.raises(ValueError):
        check_issuer("http://idp.gov.example")
