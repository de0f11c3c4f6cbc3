"""CSV formula injection (issue 8 item 7): cells a spreadsheet would run as a formula are escaped
in every CSV the toolkit writes, and `validate` warns about them cell by cell."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from payout.manifest import ManifestOptions, load_manifest
from payout.report import REPORT_COLUMNS, render_csv
from payout.types import Network, Severity, TokenInfo

USDC = TokenInfo("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "USDC", 6, Network.EVM, 1)
A = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
B = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
C = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
D = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"

DANGEROUS = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def _row(**values: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(REPORT_COLUMNS)
    row.update(
        payout_id="inv-1",
        recipient=A,
        amount="12.50",
        amount_base_units=12_500_000,
        gas_share=31_000,
        block_number=7,
        log_index=3,
        chain_id=1,
        decimals=6,
    )
    row.update(values)
    return row


@pytest.mark.parametrize("value", DANGEROUS)
def test_report_csv_escapes_formula_cells_as_owasp_advises(value: str) -> None:
    text = render_csv([_row(memo=value, payout_id=value, error=value, symbol=value)])
    (read,) = list(csv.DictReader(io.StringIO(text, newline="")))
    for column in ("memo", "payout_id", "error", "symbol"):
        assert read[column] == "'" + value, column


def test_report_csv_keeps_amounts_and_plain_text_untouched() -> None:
    text = render_csv([_row(memo="March payroll", payout_id="inv-1")])
    (read,) = list(csv.DictReader(io.StringIO(text)))
    assert read["memo"] == "March payroll" and read["payout_id"] == "inv-1"
    assert read["amount"] == "12.50" and read["amount_base_units"] == "12500000"
    assert read["gas_share"] == "31000" and read["recipient"] == A


def test_validate_warns_for_each_formula_cell_naming_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "payouts.csv"
    path.write_text(
        "recipient,amount,id,memo\n"
        f"{A},1,inv-1,March\n"
        f'{B},2,inv-2,=HYPERLINK("http://evil")\n'
        f"{C},3,@cmd,ok\n"
        f"{D},4,-x,+1\n",
        encoding="utf-8",
    )
    manifest = load_manifest(path, ManifestOptions(token=USDC))
    assert len(manifest.payouts) == 4  # a warning, never an error: the rows are still paid
    found = [(i.line, i.column, i.code, i.severity) for i in manifest.issues]
    assert found == [
        (3, "memo", "csv_formula", Severity.WARNING),
        (4, "id", "csv_formula", Severity.WARNING),
        (5, "id", "csv_formula", Severity.WARNING),
        (5, "memo", "csv_formula", Severity.WARNING),
    ]
    text = str(manifest.issues[0])
    assert text.startswith(f"{path}:3 [memo] warning:") and "formula" in text
