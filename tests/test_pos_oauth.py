"""OAuth2 client credentials (G2P Connect AUTHZ-TOKN) for the token we present to the payer.

Against the payer simulator's real token endpoint on 127.0.0.1: push and pull fetch a token
once and reuse it, fetch a new one shortly before it expires and once after a 401, refuse
cleanly (one line, a registered code, nothing sent) when the token endpoint refuses, is down or
answers garbage — and the client secret and the tokens appear in no output, log or file.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import httpx
import pytest
from test_pos_cli import one_error_line
from test_pos_exchange import FAST, World, run

from blt_status.central.pos.oauth import ClientCredentials, FileBearer

SECRET = "s3cr:t+&=/x% rahasia"  # characters that must be form-encoded for HTTP Basic


@pytest.fixture()
def world(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    world = World(tmp_path, capsys)
    world.payer.client_secret = SECRET
    world.payer.token = "fixed-token-disabled-for-these-tests-" + "x" * 8
    yield world
    world.payer.stop()


def configure_oauth(world: World, tmp_path: Path, *extra: object) -> tuple[int, str, str]:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(SECRET + "\n")
    return run(world.capsys, "central", "pos", "configure", world.dir, "--payer-id",
               world.payer.payer_id, "--payer-key", tmp_path / "payer.pem", "--token-url",
               f"{world.payer.url}/oauth2/client/token", "--client-id", world.payer.client_id,
               "--client-secret-file", secret_file, "--callback-token-file",
               tmp_path / "cbtoken", "--batch-size", "2", "--json", *extra)


def no_secret_anywhere(world: World, *texts: str) -> None:
    issued = list(world.payer.issued)
    assert issued, "no token was issued"
    for text in texts:
        assert SECRET not in text and "rahasia" not in text
        for token in issued:
            assert token not in text
    for path in (world.dir / "private" / "pos").iterdir():
        data = path.read_bytes()
        assert SECRET.encode() not in data
        assert not any(token.encode() in data for token in issued)


def test_push_and_pull_fetch_one_token_and_never_show_it(
        world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    code, out, err = configure_oauth(world, tmp_path)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["token_url"].endswith("/oauth2/client/token") and summary["token_file"] is None
    world.payer.outcomes = {}
    code, out_push, err_push = run(world.capsys, "central", "pos", "push", world.dir,
                                   "--endpoint", world.payer.url, "--json", *FAST)
    assert code == 0, err_push
    report = json.loads(out_push)
    assert report["messages_sent"] > 1 and not world.payer.refused
    # One token for the whole push: HTTP Basic, the spec's grant type.
    assert world.payer.token_requests == [{"method": "basic", "grant_type": "client_credentials",
                                           "scope": None}]
    (token,) = world.payer.issued
    assert set(world.payer.api_authorizations) == {f"Bearer {token}"}
    code, out_pull, err_pull = run(world.capsys, "central", "pos", "pull", world.dir,
                                   "--endpoint", world.payer.url, "--json", *FAST)
    assert code == 0, err_pull
    assert json.loads(out_pull)["recorded"] == report["sent"]
    assert len(world.payer.token_requests) == 2  # pull is its own process run: one more
    no_secret_anywhere(world, out, err, out_push, err_push, out_pull, err_pull, caplog.text)


def test_client_secret_post_and_scope(world: World, tmp_path: Path) -> None:
    code, _, err = configure_oauth(world, tmp_path, "--client-auth", "post", "--scope",
                                   "disburse")
    assert code == 0, err
    code, _, err = run(world.capsys, "central", "pos", "push", world.dir, "--endpoint",
                       world.payer.url, "--json", *FAST)
    assert code == 0, err
    assert world.payer.token_requests == [{"method": "post", "grant_type": "client_credentials",
                                           "scope": "disburse"}]


def test_token_is_cached_until_shortly_before_expiry_and_refetched_once_on_401(
        world: World, tmp_path: Path) -> None:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(SECRET)
    now = [1000.0]
    world.payer.token_lifetime = 120.0
    auth = ClientCredentials(f"{world.payer.url}/oauth2/client/token", world.payer.client_id,
                             secret_file, clock=lambda: now[0])
    first = auth.token()
    now[0] += 80.0
    assert auth.token() == first and auth.fetched == 1  # fresh: cached
    now[0] += 40.0 - 12.0  # 12 s before expiry (early margin: a tenth of 120 s)
    second = auth.token()
    assert second != first and auth.fetched == 2
    url = f"{world.payer.url}/disburse/search/nothing/false"
    with httpx.Client() as client:
        world.payer.revoke_tokens()  # the payer forgot it (restart): 401, one new token
        calls = len(world.payer.api_authorizations)
        answer = client.get(url, auth=auth)
        assert answer.status_code == 404  # authorized; no such transaction
        assert auth.fetched == 3 and len(world.payer.api_authorizations) == calls + 2
        assert world.payer.api_authorizations[-2:] == [f"Bearer {second}",
                                                       f"Bearer {auth.token()}"]
        world.payer.honour_tokens = False  # every token refused, new ones too
        calls = len(world.payer.api_authorizations)
        answer = client.get(url, auth=auth)
        assert answer.status_code == 401  # refetched once, then the 401 is the answer
        assert auth.fetched == 4 and len(world.payer.api_authorizations) == calls + 2
    assert "s3cr" not in repr(auth)


def test_a_token_file_is_read_for_every_request(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first\n")
    auth = FileBearer(path)
    request = httpx.Request("GET", "http://127.0.0.1:9/")
    assert next(auth.auth_flow(request)).headers["Authorization"] == "Bearer first"
    path.write_text("rotated\n")
    assert next(auth.auth_flow(request)).headers["Authorization"] == "Bearer rotated"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(("fault", "code"), [
    ("wrong_secret", "pos_token_refused"),
    ("garbage", "pos_token_invalid"),
    ("no_token", "pos_token_invalid"),
    ("500", "pos_token_unreachable"),
    ("unreachable", "pos_token_unreachable"),
])
def test_token_endpoint_faults_are_one_line_and_send_nothing(
        world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture, fault: str,
        code: str) -> None:
    caplog.set_level(logging.DEBUG)
    assert configure_oauth(world, tmp_path)[0] == 0
    if fault == "wrong_secret":
        world.payer.client_secret = "another-secret"
    elif fault == "500":
        world.payer.token_faults = ["500"] * 3  # FAST: 3 attempts
    elif fault == "unreachable":
        config_path = world.dir / "private" / "pos" / "config.json"
        config = json.loads(config_path.read_text())
        config["token_url"] = f"http://127.0.0.1:{closed_port()}/oauth2/client/token"
        config_path.write_text(json.dumps(config))
    else:
        world.payer.token_faults = [fault]
    exit_code, out, err = run(world.capsys, "central", "pos", "push", world.dir,
                              "--endpoint", world.payer.url, *FAST)
    assert exit_code != 0 and out == ""
    one_error_line(err, code)
    assert world.payer.disburse_calls == 0
    if fault == "wrong_secret":
        assert "invalid_client" in err
    for text in (err, caplog.text):  # the endpoint echoed the secret it got: not shown
        assert SECRET not in text and "rahasia" not in text and "bad secret" not in text


def test_token_source_configuration_errors(world: World, tmp_path: Path) -> None:
    base = ["central", "pos", "configure", world.dir, "--payer-id", world.payer.payer_id,
            "--payer-key", tmp_path / "payer.pem", "--callback-token-file", tmp_path / "cbtoken"]
    url = f"{world.payer.url}/oauth2/client/token"
    with pytest.raises(SystemExit) as caught:
        run(world.capsys, *base, "--token-file", tmp_path / "token", "--token-url", url)
    assert caught.value.code == 2
    one_error_line(world.capsys.readouterr().err, "usage")
    code, _, err = run(world.capsys, *base, "--token-url", url, "--client-id", "x")
    one_error_line(err, "pos_client_credentials")
    code, _, err = run(world.capsys, *base, "--token-file", tmp_path / "token",
                       "--client-id", "x")
    one_error_line(err, "pos_client_credentials")
    code, _, err = run(world.capsys, *base, "--token-url", url, "--client-id", "x",
                       "--client-secret-file", tmp_path / "missing")
    one_error_line(err, "pos_client_secret")
    assert code != 0
