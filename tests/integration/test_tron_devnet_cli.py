"""``payout devnet tron`` as a real process: it serves tronpy and prints only public dev data."""

from __future__ import annotations

import json
import signal

from support.tron_node import post, spawn_devnet_process
from tronpy import Tron
from tronpy.keys import PrivateKey
from tronpy.providers import HTTPProvider

from payout.tron.devnet import dev_account


def test_cli_serves_tronpy_and_lists_dev_accounts() -> None:
    with spawn_devnet_process("--blocks", "instant", "--accounts", "3", "--json") as node:
        client = Tron(HTTPProvider(node.url, timeout=30))
        sender, receiver = dev_account(0), dev_account(1)
        info = (
            client.trx.transfer(sender.base58, receiver.base58, 1_000_000)
            .build()
            .sign(PrivateKey(sender.private_key))
            .broadcast()
            .wait()
        )
        assert info["blockNumber"] == 1
        assert post(node.url, "devnet/info")["instant"] is True
        node.process.send_signal(signal.SIGTERM)
        out = node.output()
    assert node.process.returncode == 0
    start = out.index("{")
    printed = json.loads(out[start : out.rindex("}") + 1])
    assert printed["url"] == node.url and printed["dev_only"] is True
    assert [a["address"] for a in printed["accounts"]] == [dev_account(i).base58 for i in range(3)]
    assert all("private_key" not in a for a in printed["accounts"])
    assert dev_account(0).private_key_hex not in out


def test_cli_prints_keys_only_when_asked() -> None:
    with spawn_devnet_process("--accounts", "1", "--json", "--show-keys") as node:
        node.process.send_signal(signal.SIGTERM)
        out = node.output()
    assert dev_account(0).private_key_hex in out
