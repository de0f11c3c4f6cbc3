"""RPC, TRON node, Safe service and ledger URLs never show their credentials or API keys: in
errors, hints, report/status notes and --json."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from payout._cli.main import cli
from payout.chain import Chain
from payout.exceptions import RpcUnavailable, SafeServiceError, TronNodeUnreachable
from payout.redact import redact_text, redact_url
from payout.report import TokenResolver
from payout.types import Network, Scope

KEY = "9aa3d95b3bc440fa88ea12eaa4456161"
PASSWORD = "hunter2-secret"
QUERY_KEY = "QK-77e1b0c3d2"
SECRETS = (KEY, PASSWORD, QUERY_KEY)


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def secret_url(port: int | None = None) -> str:
    host = f"127.0.0.1:{port or _dead_port()}"
    return f"http://alice:{PASSWORD}@{host}/v3/{KEY}?apikey={QUERY_KEY}"


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://mainnet.infura.io/v3/{KEY}", "https://mainnet.infura.io/v3/***"),
        (
            "https://eth-mainnet.g.alchemy.com/v2/AbCdEfGhIjKlMnOpQrStUvWx",
            "https://eth-mainnet.g.alchemy.com/v2/***",
        ),
        (f"https://user:{PASSWORD}@node.example:8545/rpc", "https://user:***@node.example:8545/rpc"),
        (f"https://node.example/?apikey={QUERY_KEY}&x=1", "https://node.example/?apikey=***&x=***"),
        ("https://APIKEY123456@node.example/", "https://***@node.example/"),
        ("https://ethereum-mainnet.example/rpc", "https://ethereum-mainnet.example/rpc"),
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("postgresql+psycopg2://payout:pw@db/ledger", "postgresql+psycopg2://payout:***@db/ledger"),
        ("postgresql://u@h/db?password=zz&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("sqlite:////tmp/run-2026-12-03-0123456789/ledger.sqlite", "sqlite:////tmp/run-2026-12-03-0123456789/ledger.sqlite"),
    ],
)  # fmt: skip
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_url(shown) == shown  # idempotent


def test_redact_text_scrubs_pieces_quoted_by_other_libraries() -> None:
    url = f"https://mainnet.infura.io/v3/{KEY}"
    text = f"Max retries exceeded with url: /v3/{KEY} (Caused by NewConnectionError, port 1)"
    assert redact_text(text, url) == (
        "Max retries exceeded with url: /v3/*** (Caused by NewConnectionError, port 1)"
    )


def test_rpc_errors_never_show_the_secrets() -> None:
    with pytest.raises(RpcUnavailable) as caught:
        Chain(secret_url(), retries=0).block_number()
    assert_clean(str(caught.value) + str(caught.value.hint) + caught.value.url)
    assert "v3/***" in str(caught.value)


def test_tron_and_safe_service_errors_never_show_the_secrets() -> None:
    from payout.tron.client import connect

    with pytest.raises(TronNodeUnreachable) as caught:
        connect(secret_url())
    assert_clean(str(caught.value))
    error = SafeServiceError(secret_url(), "post", f"403 for {secret_url()}")
    assert_clean(str(error) + str(error.hint))


def test_cli_error_and_json_error_never_show_the_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYOUT_RPC_URL", secret_url())
    monkeypatch.setenv("PAYOUT_RPC_RETRIES", "0")
    result = CliRunner(mix_stderr=False).invoke(cli, ["deploy", "--check", "--json"])
    assert result.exit_code == 4, result.stderr
    assert_clean(result.stdout + result.stderr)
    assert "***" in json.loads(result.stdout)["error"]["message"]


def test_report_notes_never_show_the_secrets() -> None:
    resolver = TokenResolver(secret_url(), secret_url())
    evm = Scope(Network.EVM, 1, "0x" + "11" * 20, "0x" + "22" * 20)
    tron = Scope(Network.TRON, 728126428, "T" + "A" * 33, "T" + "B" * 33)
    assert resolver(evm) is None and resolver(tron) is None
    assert resolver.notes
    assert_clean(" ".join(resolver.notes))
