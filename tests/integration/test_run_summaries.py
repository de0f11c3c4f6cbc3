"""What status and send tell the operator (issue 8 item 10): skipped rows are owed, batches found
already executed are not "paid by this run", and a refused broadcast tells the truth about the
ledger."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from support.tron_payout import TronEnv, recipients, rows_for, tron_env

from payout.address import tron_to_evm
from payout.chain import Chain
from payout.demo_token import blacklist
from payout.devnet import Devnet
from payout.disburser import encode_approve
from payout.exceptions import TronTransactionRejected
from payout.ledger import Ledger
from payout.tron import executor as tron_executor
from payout.tron.executor import TronExecutor, TronSendSettings
from payout.tron.pipeline import open_context, plan_file, scope_of
from payout.tron.transaction import send_call
from payout.types import BatchStatus
from payout.wallet import Wallet

from .conftest import FAST, Payer, as_json, base_units, invoke, run, send

__all__ = ["tron_env"]  # the fixture, imported for pytest

TRON_FAST = TronSendSettings(poll_s=0.01, receipt_timeout_s=30, expiration_ms=60_000)


def test_status_owed_includes_rows_set_aside_as_skipped(
    env: dict[str, str], deployer: Wallet, payer: Payer, usdc: str, payout_file
) -> None:
    file, rows = payout_file(4)
    blocked, blocked_amount, _id = rows[2]
    blacklist(deployer, usdc, blocked)
    proc = send(env, payer, usdc, file, "--on-failure", "skip", "--json")
    assert proc.returncode == 0, proc.stderr
    result = invoke("status", "--json")
    assert result.exit_code == 0, result.stderr
    (scope,) = as_json(result.stdout)["scopes"]
    assert scope["rows"]["skipped"]["count"] == 1
    # Skipped rows are unpaid: owed until a --retry-skipped run pays them.
    assert scope["owed"]["count"] == 1
    assert scope["owed"]["amount_base_units"] == base_units(blocked_amount)
    assert scope["owed"]["amount"] == blocked_amount


def test_batches_found_already_executed_are_not_counted_as_paid_by_this_run(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file, tmp_path: Path
) -> None:
    file, _rows = payout_file(6)
    first = send(env, payer, usdc, file, "--max-batch-size", "4", "--json")
    assert first.returncode == 0, first.stderr
    assert as_json(first.stdout)["paid_rows"] == 6
    # A lost ledger: the next run finds both batches executed on chain (read before planning)
    # and records their rows as paid; none of them counts as paid by this run.
    lost = {**env, "PAYOUT_LEDGER_URL": f"sqlite:///{tmp_path / 'lost.sqlite'}"}
    again = send(lost, payer, usdc, file, "--max-batch-size", "4", "--json")
    assert again.returncode == 0, again.stderr
    out = as_json(again.stdout)
    assert out["paid_rows"] == 0
    assert out["recovered_rows"] == 6
    assert out["found_executed_rows"] == 0 and out["batches"] == []
    other = {**env, "PAYOUT_LEDGER_URL": f"sqlite:///{tmp_path / 'other.sqlite'}"}
    human = send(other, payer, usdc, file, "--max-batch-size", "3")
    assert human.returncode == 0, human.stderr
    text = " ".join(human.stdout.split())
    assert "Found on chain: 6 row(s) paid by batches this ledger did not know" in text
    assert "0 recipients paid in 0 batch(es)" in text, text


class _RefusingNode:
    """A JSON-RPC endpoint in front of anvil that refuses eth_sendRawTransaction the way a
    provider's policy does (a JSON-RPC error), and forwards everything else."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.refused = 0
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                if request.get("method") == "eth_sendRawTransaction":
                    node.refused += 1
                    reply = json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": request.get("id"),
                            "error": {"code": -32000, "message": "transaction rejected by policy"},
                        }
                    ).encode()
                else:
                    reply = requests.post(
                        node.upstream,
                        data=body,
                        headers={"Content-Type": "application/json"},
                        timeout=30,
                    ).content
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def refusing_node(node: Devnet) -> Iterator[_RefusingNode]:
    proxy = _RefusingNode(node.url)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.server.shutdown()
    proxy.server.server_close()


def test_refused_broadcast_says_the_batch_is_recorded_and_resume_settles_it(
    env: dict[str, str],
    chain: Chain,
    disburser: str,
    payer: Payer,
    usdc: str,
    payout_file,
    refusing_node: _RefusingNode,
) -> None:
    file, rows = payout_file(3)
    # Approved beforehand on the real node: the first transaction sent is the batch itself.
    Wallet(chain, payer.signer, FAST).transact(
        usdc, encode_approve(disburser, 10**12), label="approve"
    )
    before = chain.token_balance(usdc, payer.address)
    through_proxy = {**env, "PAYOUT_RPC_URL": refusing_node.url}
    proc = send(through_proxy, payer, usdc, file)
    assert refusing_node.refused == 1
    assert proc.returncode == 4, proc.stderr
    err = " ".join(proc.stderr.split())
    assert "transaction rejected by policy" in err
    assert "ledger is unchanged" not in err
    assert "recorded in the ledger as in flight" in err and "payout resume" in err
    (scope,) = as_json(run("status", "--json", env=env).stdout)["scopes"]
    # What the hint says: the batch is in flight (recorded before broadcast), its rows unpaid.
    assert len(scope["batches"]["in_flight"]) == 1
    assert scope["rows"]["submitted"]["count"] == 3
    resumed = run("resume", "--keystore", str(payer.keystore), "--json", env=env)
    assert resumed.returncode == 0, resumed.stderr
    report = as_json(run("report", "--json", env=env).stdout)
    assert {r["status"] for r in report} == {"confirmed"}
    assert chain.token_balance(usdc, payer.address) == before - sum(
        base_units(a) for _r, a, _i in rows
    )


def test_tron_broadcast_refused_after_write_ahead_says_the_batch_is_in_flight(
    tron_env: TronEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = rows_for(recipients(2, "refused"))
    path = tron_env.write_file(rows)
    ctx = open_context(
        tron_env.node.url,
        token=tron_env.token,
        disburser=tron_env.disburser,
        payer=tron_env.payer.address,
    )
    with Ledger.open(tron_env.ledger_url) as ledger:
        [batch] = plan_file(ctx, ledger, path).batches
        executor = TronExecutor(
            tron_env.client,
            ledger,
            tron_env.payer,
            ctx.disburser,
            settings=TRON_FAST,
            prices=ctx.prices,
        )
        real_broadcast = tron_executor.broadcast

        def late(client: Any, tx: Any) -> str:
            if tx.txid == ledger.batch(scope_of(ctx), batch.batch_id).tx_hash:
                # The node's clock passes the transaction's expiration before it arrives: the
                # node itself refuses it (TRANSACTION_EXPIRATION_ERROR).
                tron_env.node.advance_time(TRON_FAST.expiration_ms + 60_000)
            return real_broadcast(client, tx)

        monkeypatch.setattr(tron_executor, "broadcast", late)
        with pytest.raises(TronTransactionRejected) as info:
            executor.send_batch(batch)
        assert info.value.expired
        hint = info.value.hint or ""
        assert "recorded in the ledger as in flight" in hint and "payout tron resume" in hint
        assert ledger.batch(scope_of(ctx), batch.batch_id).status is BatchStatus.SUBMITTED


def _tron_owner_call(env: TronEnv, signature: str, *args: str) -> None:
    """A call of the env's MockUSDTTron from its owner (the payer deployed it)."""
    data = keccak(text=signature)[:4] + abi_encode(
        ["address"] * len(args), [tron_to_evm(a) for a in args]
    )
    send_call(env.client, env.payer, env.token, data, fee_limit_sun=10**8)


def test_tron_usdt_paused_is_named(tron_env: TronEnv) -> None:
    """USDT on TRON reverts without a reason; the refusal names the cause from the token."""
    rows = rows_for(recipients(2, "usdt-paused"))
    path = tron_env.write_file(rows)
    _tron_owner_call(tron_env, "pause()")
    paused = tron_env.cli("send", str(path), "--keystore", str(tron_env.payer_keystore))
    assert paused.exit_code != 0
    text = " ".join(paused.output.split())
    assert f"the token {tron_env.token} is paused by its issuer" in text
    assert "without a reason" not in text
    assert all(tron_env.balance(r) == 0 for r, _a, _i in rows)


def test_tron_usdt_blacklisted_payer_is_named(tron_env: TronEnv) -> None:
    rows = rows_for(recipients(2, "usdt-blacklisted"))
    path = tron_env.write_file(rows)
    _tron_owner_call(tron_env, "addBlackList(address)", tron_env.payer.address)
    blocked = tron_env.cli("send", str(path), "--keystore", str(tron_env.payer_keystore))
    assert blocked.exit_code != 0
    text = " ".join(blocked.output.split())
    assert f"the payer {tron_env.payer.address} is blacklisted by the token" in text
    assert "isBlackListed(" in text
    assert all(tron_env.balance(r) == 0 for r, _a, _i in rows)
