"""Issue 8 (money safety): a lost ledger, a chain reset and rows owed without a live batch.

The chain keeps its own record of every batch a payer executed (``BatchDisbursed`` and the
transfers of its transaction). After the ledger is lost, re-sending the same or an overlapping
file with ANY batch size must pay nobody twice: batches the ledger does not know are read back
from the chain, their payout ids verified against the batch id, and adopted as paid.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from payout.chain import Chain
from payout.fault import FAULT_EXIT_CODE
from payout.ledger import Ledger
from payout.types import PayoutStatus

from .conftest import PASSWORD, Payer, as_json, base_units, delete_ledger, run, send, write_csv


def _paid_once(chain: Chain, usdc: str, rows: list[tuple[str, str, str]]) -> tuple[int, int]:
    """(double-paid, unpaid) recipients of ``rows`` (fresh recipients: balance = what they got)."""
    double = unpaid = 0
    for r, a, _i in rows:
        got = chain.token_balance(usdc, r)
        if got > base_units(a):
            double += 1
        elif got < base_units(a):
            unpaid += 1
    return double, unpaid


@pytest.mark.parametrize("second_size", ["7", "10", "13"])
def test_lost_ledger_resend_with_another_batch_size_pays_nobody_twice(
    second_size: str,
    env: dict[str, str],
    chain: Chain,
    payer: Payer,
    usdc: str,
    payout_file,
) -> None:
    file, rows = payout_file(30)
    start = chain.token_balance(usdc, payer.address)
    first = send(env, payer, usdc, file, "--max-batch-size", "10")
    assert first.returncode == 0, first.stderr
    delete_ledger(env)

    # plan (read-only) already sees what the chain paid: nothing left to pay.
    planned = run(
        "plan",
        str(file),
        "--token",
        usdc,
        "--keystore",
        str(payer.keystore),
        "--max-batch-size",
        second_size,
        "--json",
        env=env,
    )
    assert planned.returncode == 0, planned.stderr
    (scope_plan,) = as_json(planned.stdout)["scopes"]
    assert scope_plan["payouts"] == 0 and scope_plan["already_paid"] == 30

    again = send(env, payer, usdc, file, "--max-batch-size", second_size, "--json")
    assert again.returncode == 0, again.stderr
    out = as_json(again.stdout)
    assert out["paid_rows"] == 0
    assert _paid_once(chain, usdc, rows) == (0, 0)
    total = sum(base_units(a) for _r, a, _i in rows)
    assert start - chain.token_balance(usdc, payer.address) == total
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        # The new ledger learned from the chain: every row confirmed with its transaction.
        assert ledger.status_counts() == {PayoutStatus.CONFIRMED: (30, total)}
        assert all(p.tx_hash for p in ledger.payouts())


def test_lost_ledger_small_batches_paid_straight_from_the_payer_are_recovered(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file
) -> None:
    """Batches of up to 3 rows are paid by transferFrom from the payer (no pull): recovery reads
    their rows from the payer's Transfer logs and pays nobody twice."""
    file, rows = payout_file(5)
    assert send(env, payer, usdc, file, "--max-batch-size", "2").returncode == 0
    delete_ledger(env)
    again = send(env, payer, usdc, file, "--max-batch-size", "3", "--json")
    assert again.returncode == 0, again.stderr
    assert as_json(again.stdout)["paid_rows"] == 0
    assert _paid_once(chain, usdc, rows) == (0, 0)
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        total = sum(base_units(a) for _r, a, _i in rows)
        assert ledger.status_counts() == {PayoutStatus.CONFIRMED: (5, total)}


def test_lost_ledger_resend_with_rows_appended_pays_only_the_new_rows(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file, tmp_path: Path
) -> None:
    file, rows = payout_file(25)
    start = chain.token_balance(usdc, payer.address)
    assert send(env, payer, usdc, file, "--max-batch-size", "10").returncode == 0
    delete_ledger(env)
    _f, more = payout_file(8, start=25, name="more.csv")
    bigger = write_csv(tmp_path / "bigger.csv", rows + more)

    again = send(env, payer, usdc, bigger, "--max-batch-size", "6", "--json")
    assert again.returncode == 0, again.stderr
    assert as_json(again.stdout)["paid_rows"] == 8
    assert _paid_once(chain, usdc, rows + more) == (0, 0)
    total = sum(base_units(a) for _r, a, _i in rows + more)
    assert start - chain.token_balance(usdc, payer.address) == total


# --- item 2: resume pays or lists every owed row --------------------------------------------------


def _register_only(env: dict[str, str], chain: Chain, payer: Payer, usdc: str, file: Path) -> None:
    """The ledger state of a run killed between registering the file and saving its plan."""
    from payout.manifest import ManifestOptions, read_manifest
    from payout.types import Network, Scope, TokenInfo

    token = TokenInfo(usdc, "USDC", 6, Network.EVM, chain.chain_id)
    manifest = read_manifest(file, ManifestOptions(network=Network.EVM, token=token))
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        ledger.register(manifest.payouts, Scope(Network.EVM, chain.chain_id, payer.address, usdc))


def test_resume_pays_rows_registered_but_never_planned(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file
) -> None:
    """A kill between register and plan leaves rows owed in no batch: resume pays them."""
    file, rows = payout_file(6)
    _register_only(env, chain, payer, usdc, file)

    resumed = run("resume", "--keystore", str(payer.keystore), "--json", env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert as_json(resumed.stdout)["owed_rows"] == 0
    assert _paid_once(chain, usdc, rows) == (0, 0)


def test_resume_without_the_key_lists_owed_rows_and_fails(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file
) -> None:
    file, _rows = payout_file(3)
    _register_only(env, chain, payer, usdc, file)
    human = run("resume", env=env)
    assert human.returncode == 6, human.stdout + human.stderr
    assert "Nothing to resume" not in human.stdout and "Done" not in human.stdout
    assert "Still owed" in human.stdout and "id-0" in human.stdout
    listed = run("resume", "--json", env=env)
    assert listed.returncode == 6
    assert sorted(o["payout_id"] for o in as_json(listed.stdout)["owed"]) == [
        "id-0",
        "id-1",
        "id-2",
    ]


def test_resume_pays_rows_of_a_batch_whose_nonce_another_transaction_took(
    env: dict[str, str], chain: Chain, payer: Payer, usdc: str, payout_file
) -> None:
    from payout.wallet import Wallet

    from .conftest import FAST

    file, rows = payout_file(9)
    crashed = send(
        env,
        payer,
        usdc,
        file,
        "--max-batch-size",
        "3",
        extra_env={"PAYOUT_FAULT": "before-broadcast:1"},
    )
    assert crashed.returncode == FAULT_EXIT_CODE, crashed.stderr
    # Another transaction of the payer takes the recorded batch's nonce.
    Wallet(chain, payer.signer, FAST).transact(payer.address, b"", label="unrelated")

    resumed = run("resume", "--keystore", str(payer.keystore), "--json", env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    out = as_json(resumed.stdout)
    assert [s["status"] for s in out["settled_from_chain"]] == ["abandoned"]
    assert out["owed_rows"] == 0
    assert _paid_once(chain, usdc, rows) == (0, 0)
    total = sum(base_units(a) for _r, a, _i in rows)
    with Ledger.open(env["PAYOUT_LEDGER_URL"]) as ledger:
        assert ledger.status_counts() == {PayoutStatus.CONFIRMED: (9, total)}


# --- item 3: a reset chain with the same chain id is refused ----------------------------------


def test_a_restarted_chain_with_the_same_chain_id_is_refused(
    tmp_path: Path, keystores: Path
) -> None:
    from eth_utils.address import to_checksum_address

    from payout.demo_token import DemoToken, deploy_token, mint
    from payout.deployment import deploy_disburser
    from payout.devnet import dev_private_key, free_port, start_anvil
    from payout.signer import LocalSigner
    from payout.wallet import Wallet

    from .conftest import FAST, make_payer

    port = free_port()
    ledger_env = {
        "PAYOUT_RPC_URL": f"http://127.0.0.1:{port}",
        "PAYOUT_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "PAYOUT_KEYSTORE_PASSWORD": PASSWORD,
    }

    payer: Payer | None = None

    def fresh_chain() -> tuple[Chain, str]:
        nonlocal payer
        chain = Chain(ledger_env["PAYOUT_RPC_URL"])
        deployer = Wallet(chain, LocalSigner(dev_private_key(0)), FAST)
        deploy_disburser(chain, deployer)
        if payer is None:
            payer = make_payer(chain, keystores)
        else:
            chain.request("anvil_setBalance", [payer.address, hex(100 * 10**18)])
        token = deploy_token(deployer, DemoToken.USDC, "Demo USD Coin", "USDC")
        mint(deployer, token, payer.address, 1_000 * 10**6)
        return chain, token

    rows = [(to_checksum_address(f"0x{(i + 1):040x}"), "1.5", f"r-{i}") for i in range(3)]
    file = write_csv(tmp_path / "p.csv", rows)
    with start_anvil(port=port):
        chain, token = fresh_chain()
        assert payer is not None
        first = send(ledger_env, payer, token, file)
        assert first.returncode == 0, first.stderr
    with start_anvil(port=port):  # same chain id, new genesis: the old payments are gone
        chain, token2 = fresh_chain()
        assert token2 == token  # same deployer nonce: the same token address
        again = send(ledger_env, payer, token, file)
        assert again.returncode == 6, again.stdout + again.stderr
        assert "block 0" in again.stderr and "not the chain" in again.stderr
        resumed = run("resume", "--keystore", str(payer.keystore), env=ledger_env)
        assert resumed.returncode == 6, resumed.stderr
        assert "not the chain" in resumed.stderr
        for r, _a, _i in rows:
            assert chain.token_balance(token, r) == 0


@pytest.mark.parametrize("decision", ["--adopt", "--unrelated"])
def test_rows_matching_an_unverifiable_chain_batch_are_refused_until_recovered(
    decision: str,
    env: dict[str, str],
    chain: Chain,
    payer: Payer,
    usdc: str,
    payout_file,
    tmp_path: Path,
) -> None:
    """Same recipients and amounts under other ids (an edited file, or next month's payout):
    the ids cannot be verified against the chain, so nothing is paid until the operator says."""
    file, rows = payout_file(4)
    assert send(env, payer, usdc, file).returncode == 0
    delete_ledger(env)
    renamed = write_csv(
        tmp_path / "renamed.csv", [(r, a, f"next-{n}") for n, (r, a, _i) in enumerate(rows)]
    )

    refused = send(env, payer, usdc, renamed)
    assert refused.returncode == 6, refused.stdout + refused.stderr
    assert "payout recover" in refused.stderr and "next-0" in refused.stderr
    assert _paid_once(chain, usdc, rows) == (0, 0)

    listed = run(
        "recover", str(renamed), "--token", usdc, "--payer", payer.address, "--json", env=env
    )
    assert listed.returncode == 6
    blocked = as_json(listed.stdout)["blocked"]
    assert sorted(b["payout_id"] for b in blocked) == [f"next-{i}" for i in range(4)]
    tx = blocked[0]["tx_hash"]
    decided = run(
        "recover", str(renamed), "--token", usdc, "--payer", payer.address, decision, tx, env=env
    )
    assert decided.returncode == 0, decided.stdout + decided.stderr

    again = send(env, payer, usdc, renamed, "--json")
    assert again.returncode == 0, again.stderr
    paid = as_json(again.stdout)["paid_rows"]
    if decision == "--adopt":
        assert paid == 0 and _paid_once(chain, usdc, rows) == (0, 0)
    else:  # declared unrelated: the renamed rows are new payouts, paid once more on purpose
        assert paid == 4
        assert all(chain.token_balance(usdc, r) == 2 * base_units(a) for r, a, _i in rows)
