"""The bearer token we present to the payer: from a file, or OAuth2 client credentials.

G2P Connect's authz spec (AUTHZ-TOKN, ``POST /oauth2/client/token``) is RFC 6749's
client-credentials grant: a form-encoded ``grant_type=client_credentials`` from a registered
confidential client, answered with a bearer ``access_token`` and its ``expires_in``; no refresh
token; an API answers 401 once the token is invalid or expired.

Both sources are :class:`httpx.Auth` flows, so every call to the payer (and each of its retries)
carries the current token:

- :class:`FileBearer` reads the token file on every request (rotating the file rotates the
  token);
- :class:`ClientCredentials` fetches a token when it has none, keeps it in memory only until
  shortly before ``expires_in`` runs out, and fetches a new one once when the payer answers 401.

The client authenticates with HTTP Basic (``client_secret_basic``, the method RFC 6749 §2.3.1
requires every server to support; id and secret form-encoded first) or, with
``client_auth="post"``, with ``client_id``/``client_secret`` in the form body. The secret is read
from its file when a token is fetched. Neither the secret nor a token is ever printed, logged or
written anywhere; errors name the token URL and the HTTP status or RFC 6749 error code only.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from urllib.parse import quote_plus

import httpx

from blt_status.central.pos.config import PosConfig, read_secret, read_token
from blt_status.central.pos.http import PayerUnreachable, RetryPolicy, call_payer
from blt_status.errors import CentralError

__all__ = ["ClientCredentials", "FileBearer", "payer_auth"]

CLIENT_AUTH_METHODS = ("basic", "post")
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_EARLY = 30.0  # refetch this long before expiry (at most a tenth of the token's lifetime)


class FileBearer(httpx.Auth):
    """``Authorization: Bearer`` with the token of a file, read for each request."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def token(self) -> str:
        return read_token(self.path)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request


class ClientCredentials(httpx.Auth):
    """OAuth2 client credentials (G2P Connect AUTHZ-TOKN) with an in-memory token cache."""

    def __init__(self, token_url: str, client_id: str, secret_file: Path, *,
                 client_auth: str = "basic", scope: str | None = None,
                 policy: RetryPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if client_auth not in CLIENT_AUTH_METHODS:
            raise ValueError(f"unknown client authentication {client_auth!r}")
        self.token_url = token_url
        self.client_id = client_id
        self.secret_file = secret_file
        self.client_auth = client_auth
        self.scope = scope
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.fetched = 0  # tokens fetched so far
        self._token: str | None = None
        self._valid_until = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the token or the secret
        return f"ClientCredentials({self.token_url!r}, client_id={self.client_id!r})"

    def token(self) -> str:
        """The cached token while it is fresh, else a new one from the token endpoint."""
        with self._lock:
            if self._token is None or self.clock() >= self._valid_until:
                self._token, lifetime = self._fetch()
                early = min(_EARLY, lifetime / 10) if lifetime is not None else 0.0
                self._valid_until = (self.clock() + lifetime - early if lifetime is not None
                                     else float("inf"))
            return self._token

    def forget(self, token: str) -> None:
        """Drop ``token`` (the payer refused it): the next :meth:`token` fetches anew."""
        with self._lock:
            if self._token == token:
                self._token = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:  # expired or revoked early: one new token, one retry
            self.forget(token)
            request.headers["Authorization"] = f"Bearer {self.token()}"
            yield request

    def _fetch(self) -> tuple[str, float | None]:
        secret = read_secret(self.secret_file)
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        auth: httpx.Auth | None = None
        if self.client_auth == "basic":
            auth = httpx.BasicAuth(quote_plus(self.client_id), quote_plus(secret))
        else:
            form.update(client_id=self.client_id, client_secret=secret)
        with httpx.Client() as client:
            try:
                response = call_payer(client, "POST", self.token_url, policy=self.policy,
                                      data=form, auth=auth,
                                      headers={"Accept": "application/json"})
            except PayerUnreachable as error:
                raise CentralError("pos_token_unreachable", url=self.token_url,
                                   reason=str(error)) from None
        self.fetched += 1
        return _parse_token(self.token_url, response)


def _parse_token(url: str, response: httpx.Response) -> tuple[str, float | None]:
    """(access token, lifetime in seconds or None) from a token endpoint's answer."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code != 200:
        code = data.get("error") if isinstance(data, dict) else None
        shown = code if isinstance(code, str) and _ERROR_CODE.match(code) else "-"
        raise CentralError("pos_token_refused", url=url, status=response.status_code,
                           error=shown)
    if not isinstance(data, dict):
        raise CentralError("pos_token_invalid", url=url, reason="not a JSON object")
    token = data.get("access_token")
    if not isinstance(token, str) or not token or any(ch.isspace() for ch in token):
        raise CentralError("pos_token_invalid", url=url, reason="no access_token")
    if str(data.get("token_type", "")).lower() != "bearer":
        raise CentralError("pos_token_invalid", url=url, reason="token_type is not Bearer")
    lifetime = data.get("expires_in")
    if lifetime is None:
        return token, None
    try:
        seconds = float(lifetime)
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(lifetime, bool) or not 0 < seconds < 10 ** 9:
        raise CentralError("pos_token_invalid", url=url, reason="expires_in is not a number")
    return token, seconds


def payer_auth(config: PosConfig, policy: RetryPolicy | None = None
               ) -> FileBearer | ClientCredentials:
    """The configured token source, checked now: a bad file or a refusing token endpoint fails
    here, before anything is sent."""
    if config.token_url:
        assert config.client_id and config.client_secret_file  # save_config checks this
        source: FileBearer | ClientCredentials = ClientCredentials(
            config.token_url, config.client_id, Path(config.client_secret_file),
            client_auth=config.client_auth, scope=config.scope, policy=policy)
    else:
        assert config.token_file
        source = FileBearer(Path(config.token_file))
    source.token()
    return source
