"""Replay keys: one storage word of the disburser's bitmap per run, recorded before sending and
never changed; the service's rolling word; ledgers written before replay keys are upgraded."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from payout.batching import derive_replay_keys, plan_batches
from payout.config import resolve_ledger_url
from payout.exceptions import LedgerError
from payout.ledger import Ledger
from payout.types import ExecutorKind, Network, Payout, Scope

PAYER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
DISBURSER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TOKEN = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
ALICE = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
SCOPE = Scope(Network.EVM, 1, PAYER, TOKEN)


def _keys(ids: list[bytes]) -> list[bytes]:
    return derive_replay_keys(
        network=Network.EVM,
        chain_id=1,
        disburser=DISBURSER,
        payer=PAYER,
        token=TOKEN,
        batch_ids=ids,
    )


def _rows(n: int, start: int = 0) -> list[Payout]:
    return [Payout(f"p{i}", ALICE, 1_000 + i) for i in range(start, start + n)]


def test_batches_of_a_run_share_one_word_and_take_consecutive_bits() -> None:
    ids = [i.to_bytes(32, "big") for i in range(300)]
    keys = _keys(ids)
    assert all(len(k) == 32 for k in keys)
    assert [k[31] for k in keys[:256]] == list(range(256))
    assert len({k[:31] for k in keys[:256]}) == 1
    # Past 256 batches the run opens its next word.
    assert keys[256][:31] != keys[0][:31] and keys[256][31] == 0
    assert len({k[:31] for k in keys[256:]}) == 1
    # Content-derived: the same run gets the same keys, another run another word.
    assert _keys(ids) == keys
    assert _keys(ids[:-1])[0][:31] != keys[0][:31]


def test_planned_batches_carry_their_run_keys() -> None:
    batches = plan_batches(
        _rows(10), chain_id=1, payer=PAYER, disburser=DISBURSER, token=TOKEN, max_batch_size=3
    )
    assert [b.replay_key for b in batches] == _keys([b.batch_id for b in batches])
    assert [b.replay_key[31] for b in batches] == [0, 1, 2, 3]


def test_a_batch_keeps_the_replay_key_it_was_first_recorded_with(ledger: Ledger) -> None:
    """A transaction signed with the first key may still be mined: a re-plan (another run, so
    another word) must not send the batch under a second key."""
    rows = _rows(4)
    ledger.register(rows, SCOPE)
    first = plan_batches(
        rows, chain_id=1, payer=PAYER, disburser=DISBURSER, token=TOKEN, max_batch_size=2
    )
    ledger.save_plan(first, executor=ExecutorKind.WALLET)
    moved = replace(first[1], replay_key=b"\x99" * 32)
    ledger.save_plan([moved], executor=ExecutorKind.WALLET)
    assert ledger.batch(SCOPE, first[1].batch_id).replay_key == first[1].replay_key_hex
    assert ledger.stored_key(moved).replay_key == first[1].replay_key
    assert ledger.with_stored_keys([moved])[0].replay_key == first[1].replay_key
    assert ledger.load_batch(SCOPE, first[1].batch_id).replay_key == first[1].replay_key


def test_the_rolling_word_hands_out_each_bit_once_and_then_opens_a_new_word(
    ledger: Ledger,
) -> None:
    keys = [ledger.allocate_replay_key(SCOPE, bytes([i % 256]) * 32) for i in range(258)]
    assert len(set(keys)) == 258
    assert [k[31] for k in keys[:256]] == list(range(256))
    assert len({k[:31] for k in keys[:256]}) == 1
    assert keys[256][:31] != keys[0][:31] and [keys[256][31], keys[257][31]] == [0, 1]
    # Per scope: another token has its own word.
    other = Scope(Network.EVM, 1, PAYER, ALICE)
    assert ledger.allocate_replay_key(other, b"\x00" * 32)[:31] != keys[257][:31]


def test_a_ledger_written_before_replay_keys_is_upgraded_on_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v1.sqlite'}"
    with Ledger.open(url) as ledger:
        ledger.register(_rows(2), SCOPE)
    # As the previous version wrote it: no replay_key column, no replay_words table, version 1.
    engine = create_engine(resolve_ledger_url(url))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE batches DROP COLUMN replay_key"))
        conn.execute(text("DROP TABLE replay_words"))
        conn.execute(text("UPDATE ledger_meta SET value = '1' WHERE key = 'schema_version'"))
    engine.dispose()
    with Ledger.open(url) as ledger:
        assert ledger.schema_version() == 2
        batches = plan_batches(_rows(2), chain_id=1, payer=PAYER, disburser=DISBURSER, token=TOKEN)
        ledger.save_plan(batches, executor=ExecutorKind.WALLET)
        assert ledger.batch(SCOPE, batches[0].batch_id).replay_key == batches[0].replay_key_hex
        assert ledger.allocate_replay_key(SCOPE, b"\x01" * 32)[31] == 0


def test_a_batch_in_flight_from_before_replay_keys_is_not_guessed_at(ledger: Ledger) -> None:
    """Sent to the previous disburser (keyed by batch id): only that version can settle it."""
    rows = _rows(2)
    ledger.register(rows, SCOPE)
    (batch,) = plan_batches(rows, chain_id=1, payer=PAYER, disburser=DISBURSER, token=TOKEN)
    ledger.save_plan([replace(batch, replay_key=b"")], executor=ExecutorKind.WALLET)
    ledger.record_submission(SCOPE, batch.batch_id, tx_hash="0x01", nonce=0)
    with pytest.raises(LedgerError, match="before replay keys"):
        ledger.load_batch(SCOPE, batch.batch_id)


def test_rolling_keys_draw_only_for_batches_the_ledger_has_no_key_for(ledger: Ledger) -> None:
    """The payout service's payers (hot wallet, Safe, TRON) take their keys through
    ``with_rolling_keys``: a batch recorded earlier (a killed worker's, a re-plan of the same
    rows) keeps its key, even one derived from its run, and takes no bit of the word."""
    rows = _rows(6)
    ledger.register(rows, SCOPE)
    derived = plan_batches(
        rows[:2], chain_id=1, payer=PAYER, disburser=DISBURSER, token=TOKEN, max_batch_size=2
    )
    ledger.save_plan(derived, executor=ExecutorKind.WALLET)  # recorded with its run's key
    first = plan_batches(
        rows[2:4], chain_id=1, payer=PAYER, disburser=DISBURSER, token=TOKEN, max_batch_size=2
    )
    second = plan_batches(
        rows[4:], chain_id=1, payer=PAYER, disburser=DISBURSER, token=TOKEN, max_batch_size=2
    )
    keyed = ledger.with_rolling_keys(derived + first)
    assert keyed[0].replay_key == derived[0].replay_key  # recorded: kept, no bit drawn
    assert keyed[1].replay_key[31] == 0 and keyed[1].replay_key != first[0].replay_key
    ledger.save_plan(keyed[1:], executor=ExecutorKind.WALLET)
    # Planned again (a restart): the recorded key, no second draw.
    assert ledger.with_rolling_keys(first)[0].replay_key == keyed[1].replay_key
    (later,) = ledger.with_rolling_keys(second)
    assert later.replay_key[:31] == keyed[1].replay_key[:31] and later.replay_key[31] == 1


@pytest.mark.postgres
def test_two_workers_on_one_postgresql_never_take_the_same_bit(postgres_database: str) -> None:
    """Two processes' ledgers on one PostgreSQL database draw from one scope's word at once
    (the row lock of ``allocate_replay_key``): every bit is handed out once."""
    from concurrent.futures import ThreadPoolExecutor

    with Ledger.open(postgres_database) as one, Ledger.open(postgres_database) as two:

        def draw(ledger: Ledger, n: int) -> list[bytes]:
            return [ledger.allocate_replay_key(SCOPE, bytes([n, i]) * 16) for i in range(40)]

        with ThreadPoolExecutor(4) as pool:
            found = pool.map(lambda a: draw(*a), [(one, 1), (two, 2), (one, 3), (two, 4)])
            keys = [k for part in found for k in part]
    assert len(set(keys)) == 160
    assert {k[:31] for k in keys} == {keys[0][:31]}
    assert sorted(k[31] for k in keys) == list(range(160))
