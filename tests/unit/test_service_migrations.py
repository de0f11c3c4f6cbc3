"""Alembic migrations of the ledger database (SQLite here; PostgreSQL in the service's
PostgreSQL test)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine

from payout.ledger import Ledger
from payout.ledger import metadata as ledger_metadata
from payout.service import migrate
from payout.service.tables import service_metadata
from payout.types import Network, Payout, PayoutStatus, Scope

SCOPE = Scope(
    Network.EVM,
    1,
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
)


def _all_metadata() -> MetaData:
    combined = MetaData()
    for md in (ledger_metadata, service_metadata):
        for table in md.tables.values():
            table.to_metadata(combined)
    return combined


def test_existing_ledger_is_stamped_and_upgraded_keeping_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    with Ledger.open(url) as ledger:  # a ledger as the CLI writes it, before migrations
        ledger.register([Payout("inv-1", SCOPE.payer, 12_500_000, memo="March")], SCOPE)
    result = migrate.upgrade(url)
    assert result.stamped_existing and result.before is None
    assert result.after == migrate.head_revision()
    with Ledger.open(url) as ledger:
        rows = ledger.payouts(SCOPE)
        assert [(r.payout_id, r.amount, r.status) for r in rows] == [
            ("inv-1", 12_500_000, PayoutStatus.PLANNED)
        ]
    again = migrate.upgrade(url)
    assert again.before == again.after and not again.stamped_existing


def test_migrated_schema_is_the_code_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), _all_metadata())
    engine.dispose()
    assert diff == []
    with Ledger.open(url) as ledger:  # the CLI accepts a migrated database as it is
        assert ledger.schema_version() == 2
