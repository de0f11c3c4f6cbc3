"""Payout files: every error reported at once, located by file, line and column."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payout.exceptions import ChainError, InputError, ManifestError
from payout.manifest import (
    Manifest,
    ManifestOptions,
    derive_payout_id,
    load_manifest,
    read_manifest,
)
from payout.types import UINT96_MAX, Network, Payout, Severity, TokenInfo

USDC = TokenInfo("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "USDC", 6, Network.EVM, 1)
USDT = TokenInfo("0xdAC17F958D2ee523a2206206994597C13D831ec7", "USDT", 6, Network.EVM, 1)
WETH = TokenInfo("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "WETH", 18, Network.EVM, 1)
TRON_USDT = TokenInfo("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "USDT", 6, Network.TRON, 728126428)
DISBURSER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"

A = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
B = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
C = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
T1 = "TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1"
T2 = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"

OPTS = ManifestOptions(token=USDC, forbidden={DISBURSER: "the disburser contract"})


def write(tmp_path: Path, content: str | bytes, name: str = "payouts.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def located(manifest: Manifest) -> list[tuple[int, str, str]]:
    return [(i.line, i.column, i.code) for i in manifest.issues]


# --- good files ---------------------------------------------------------------------------------


def test_valid_csv_gives_normalized_payouts_in_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "recipient,amount,id,memo\n"
        f"{A},12.50,inv-1,March\n"
        f"{B.lower()},0.000001,inv-2,\n"
        f"{C.upper().replace('0X', '0x')},7,inv-3,\n",
    )
    manifest = load_manifest(path, OPTS)
    assert manifest.ok and manifest.format == "csv" and manifest.rows == 3
    assert manifest.payouts == [
        Payout("inv-1", A, 12_500_000, 2, "March", None, Network.EVM, str(path)),
        Payout("inv-2", B, 1, 3, None, None, Network.EVM, str(path)),
        Payout("inv-3", C, 7_000_000, 4, None, None, Network.EVM, str(path)),
    ]
    assert manifest.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest.totals() == {(Network.EVM, None): (3, 19_500_001)}


def test_decimals_come_from_the_caller(tmp_path: Path) -> None:
    path = write(tmp_path, f"recipient,amount\n{A},1.5\n")
    assert load_manifest(path, ManifestOptions(token=WETH)).payouts[0].amount == 15 * 10**17
    assert load_manifest(path, ManifestOptions.for_decimals(2)).payouts[0].amount == 150
    assert read_manifest(path, ManifestOptions.for_decimals(0)).issues[0].code == "amount_decimals"


def test_every_error_is_reported_at_once_with_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "recipient,amount,id\n"
        f"{A},10,a\n"  # 2 ok
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD,1,b\n"  # 3 checksum
        "0x0000000000000000000000000000000000000000,1,c\n"  # 4 zero
        f"{T1},1,d\n"  # 5 TRON address in an EVM file
        f"{USDC.address},1,e\n"  # 6 the token itself
        f"{DISBURSER},1,f\n"  # 7 the disburser
        f"{B},0,g\n"  # 8 zero amount
        f"{B},-3,h\n"  # 9 negative
        f"{B},1.0000001,i\n"  # 10 too many decimals
        f"{B},{UINT96_MAX},j\n"  # 11 over uint96 once scaled
        f"{C},1,a\n"  # 12 duplicate id
        f"{A},2,k\n"  # 13 repeated recipient: warning only
        f"{C},1e3,l\n"  # 14 scientific notation
        f"{C},1\n",  # 15 wrong width
    )
    manifest = read_manifest(path, OPTS)
    assert located(manifest) == [
        (3, "recipient", "address_checksum"),
        (4, "recipient", "address_zero"),
        (5, "recipient", "address_other_network"),
        (6, "recipient", "recipient_is_token"),
        (7, "recipient", "recipient_forbidden"),
        (8, "amount", "amount_not_positive"),
        (9, "amount", "amount_not_positive"),
        (10, "amount", "amount_decimals"),
        (11, "amount", "amount_too_large"),
        (12, "id", "id_duplicate"),
        (13, "recipient", "recipient_repeated"),
        (14, "amount", "amount_format"),
        (15, "", "row_width"),
    ]
    assert manifest.error_count == 12 and manifest.warning_count == 1
    assert "TRON" in manifest.issues[2].message
    assert "line 2" in manifest.issues[9].message  # the duplicate names the first use
    assert [p.payout_id for p in manifest.payouts] == ["a", "k"]
    with pytest.raises(ManifestError) as info:
        manifest.raise_for_errors()
    error = info.value
    assert isinstance(error, InputError) and error.exit_code == 2
    assert len(error.issues) == 13 and error.error_count == 12
    text = str(error)
    assert f"{path}:3 [recipient]" in text and f"{path}:15" in text and "12 errors" in text


def test_repeated_recipient_is_only_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, f"recipient,amount\n{A},1\n{A},2\n")
    manifest = load_manifest(path, OPTS)
    assert len(manifest.payouts) == 2
    assert [(i.line, i.code, i.severity) for i in manifest.issues] == [
        (3, "recipient_repeated", Severity.WARNING)
    ]


def test_issue_list_is_capped_but_every_error_is_counted(tmp_path: Path) -> None:
    rows = "".join(f"{A},0\n" for _ in range(30))
    path = write(tmp_path, "recipient,amount\n" + rows)
    manifest = read_manifest(path, ManifestOptions(token=USDC, max_issues=5))
    assert len(manifest.issues) == 5 and manifest.error_count == 30
    assert manifest.counts_by_code == {"amount_not_positive": 30}
    assert "and 25 more" in str(ManifestError(str(path), manifest.issues, manifest.error_count))


# --- header, structure, encoding ---------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "   \n\n", "\ufeff"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    manifest = read_manifest(write(tmp_path, content), OPTS)
    assert located(manifest) == [(0, "", "empty_file")]


def test_header_without_rows(tmp_path: Path) -> None:
    assert located(read_manifest(write(tmp_path, "recipient,amount\n"), OPTS)) == [
        (0, "", "no_rows")
    ]


def test_missing_header_is_detected(tmp_path: Path) -> None:
    manifest = read_manifest(write(tmp_path, f"{A},1\n{B},2\n"), OPTS)
    assert located(manifest) == [(1, "", "header_missing")]
    assert "recipient,amount" in manifest.issues[0].message


def test_unknown_duplicate_and_missing_columns(tmp_path: Path) -> None:
    manifest = read_manifest(write(tmp_path, "recipent,ammount,id,id\n"), OPTS)
    assert located(manifest) == [
        (1, "recipent", "header_unknown"),
        (1, "ammount", "header_unknown"),
        (1, "id", "header_duplicate"),
        (1, "", "column_missing"),
        (1, "", "column_missing"),
    ]
    assert "did you mean 'recipient'" in manifest.issues[0].message
    assert "did you mean 'amount'" in manifest.issues[1].message


def test_header_names_are_case_and_space_insensitive_with_aliases(tmp_path: Path) -> None:
    path = write(tmp_path, f" Address ; Value ; Payout-ID ; Reference\n{A};1.5;x;ref\n")
    (p,) = load_manifest(path, OPTS).payouts
    assert (p.payout_id, p.recipient, p.amount, p.memo) == ("x", A, 1_500_000, "ref")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbfrecipient,amount\r\n" + f"{A},1\r\n".encode())
    manifest = load_manifest(path, OPTS)
    assert [p.line for p in manifest.payouts] == [2]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_are_refused_clearly(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path, f"recipient,amount\n{A},1\n".encode(encoding))
    manifest = read_manifest(path, OPTS)
    assert located(manifest) == [(0, "", "byte_order_mark")]
    assert "UTF-8" in manifest.issues[0].message


def test_non_utf8_bytes_are_located_by_line_and_byte_offset(tmp_path: Path) -> None:
    head = f"recipient,amount,memo\n{A},1,ok\n".encode()
    bad1 = f"{B},2,caf".encode() + b"\xe9\n"  # Latin-1 e-acute
    bad2 = f"{C},3,".encode() + b"\xff\xfe\n"
    path = write(tmp_path, head + bad1 + bad2)
    manifest = read_manifest(path, OPTS)
    assert located(manifest) == [(3, "", "encoding"), (4, "", "encoding")]
    assert f"offset {len(head) + len(bad1) - 2}" in manifest.issues[0].message
    assert "0xe9" in manifest.issues[0].message
    assert f"offset {len(head) + len(bad1) + len(bad2) - 3}" in manifest.issues[1].message
    assert [p.payout_id for p in manifest.payouts] == [manifest.payouts[0].payout_id]
    assert manifest.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_nul_bytes_are_refused(tmp_path: Path) -> None:
    manifest = read_manifest(write(tmp_path, b"recipient,amount\n\x00\x00"), OPTS)
    assert located(manifest) == [(0, "", "encoding")]


def test_quoted_fields_blank_lines_and_padding(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "recipient,amount,memo\n"
        f'{A},1,"two\nlines, and a comma"\n'  # lines 2-3
        "\n"  # 4 blank
        ",,\n"  # 5 spreadsheet padding
        f"{B},2,plain,,\n"  # 6 trailing empty cells
        f"{C},0,bad\n",  # 7
    )
    manifest = read_manifest(path, OPTS)
    assert [(p.line, p.memo) for p in manifest.payouts] == [
        (3, "two\nlines, and a comma"),
        (6, "plain"),
    ]
    assert located(manifest) == [(7, "amount", "amount_not_positive")]


def test_unterminated_quote_is_a_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, f'recipient,amount,memo\n{A},1,"open\n')
    codes = [i.code for i in read_manifest(path, OPTS).issues]
    assert "syntax" in codes or "row_width" in codes


def test_missing_file_is_an_issue_not_a_crash(tmp_path: Path) -> None:
    manifest = read_manifest(tmp_path / "nope.csv", OPTS)
    assert not manifest.ok and "cannot read" in manifest.issues[0].message


# --- tokens and networks ------------------------------------------------------------------------


def test_token_column_by_address_or_symbol(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "recipient,amount,token\n"
        f"{A},1,\n"
        f"{B},1,{USDT.address.lower()}\n"
        f"{C},1,weth\n"
        f"{A},1,0x0000000000000000000000000000000000000001\n"
        f"{A},1,DAI\n",
    )
    manifest = read_manifest(path, ManifestOptions(token=USDC, tokens={"x": USDT, "y": WETH}))
    assert [(p.line, p.token, p.amount) for p in manifest.payouts] == [
        (2, None, 1_000_000),
        (3, USDT.address, 1_000_000),
        (4, WETH.address, 10**18),
    ]
    assert located(manifest) == [(5, "token", "token_unknown"), (6, "token", "token_unknown")]
    assert set(manifest.tokens) == {USDC.address, USDT.address, WETH.address}


def test_token_resolver_is_called_once_per_token_and_errors_land_on_rows(tmp_path: Path) -> None:
    calls: list[str] = []
    broken = "0x0000000000000000000000000000000000000002"

    def resolve(network: Network, address: str) -> TokenInfo:
        calls.append(address)
        if address == USDT.address:
            return USDT
        raise ChainError(f"no code at {address}")

    path = write(
        tmp_path,
        "recipient,amount,token\n"
        + "".join(f"{A},1,{USDT.address}\n" for _ in range(3))
        + f"{B},1,{broken}\n",
    )
    manifest = read_manifest(path, ManifestOptions(token=USDC, resolve_token=resolve))
    assert calls == [USDT.address, broken]
    assert len(manifest.payouts) == 3
    assert located(manifest)[-1] == (5, "token", "token_unknown")
    assert "no code" in manifest.issues[-1].message


def test_recipient_equal_to_a_row_token_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"recipient,amount,token\n{USDT.address},1,{USDT.address}\n")
    manifest = read_manifest(path, ManifestOptions(token=USDC, tokens={"usdt": USDT}))
    assert located(manifest) == [(2, "recipient", "recipient_is_token")]


def test_tron_rows_are_validated_as_tron(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "recipient,amount,network\n"
        f"{T1},1.5,tron\n"
        f"{A},1,tron\n"  # EVM address in a TRON row
        f"{T2},1,evm\n"  # TRON address in an EVM row
        f"{A},1,\n"  # default network: EVM
        f"{A},1,solana\n",
    )
    manifest = read_manifest(path, ManifestOptions(token=USDC, tokens={"t": TRON_USDT}))
    # TRON rows have no default token unless the file names one: line 2 needs a token too.
    assert located(manifest) == [
        (2, "token", "token_unknown"),
        (3, "token", "token_unknown"),
        (3, "recipient", "address_other_network"),
        (4, "recipient", "address_other_network"),
        (6, "network", "network_unknown"),
    ]
    assert "EVM address" in manifest.issues[2].message
    assert "TRON" in manifest.issues[3].message


def test_tron_only_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, f"recipient,amount\n{T1},1.5\n4194a15629b2b2bbd3a5453e6d6696b2875278633b,2\n"
    )
    manifest = load_manifest(path, ManifestOptions(network=Network.TRON, token=TRON_USDT))
    assert [(p.recipient, p.amount, p.network) for p in manifest.payouts] == [
        (T1, 1_500_000, Network.TRON),
        (T1, 2_000_000, Network.TRON),  # the hex form is normalized to base58
    ]
    assert [i.code for i in manifest.issues] == ["recipient_repeated"]


def test_tron_forbidden_and_token_addresses(tmp_path: Path) -> None:
    path = write(tmp_path, f"recipient,amount\n{TRON_USDT.address},1\n{T2},1\n")
    options = ManifestOptions(
        network=Network.TRON, token=TRON_USDT, forbidden={T2: "the TRON disburser"}
    )
    assert located(read_manifest(path, options)) == [
        (2, "recipient", "recipient_is_token"),
        (3, "recipient", "recipient_forbidden"),
    ]


# --- Safe CSV Airdrop ---------------------------------------------------------------------------


def test_safe_csv_airdrop_format(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "token_type,token_address,receiver,value,id\n"
        f"erc20,{USDC.address},{A},1.25,\n"
        f",{USDC.address},{B},2,\n"  # token_type defaults to erc20
        f"erc20,{USDC.address},{C},3,7\n"  # id = NFT id: ignored with a warning
        f"native,,{A},1,\n"
        f"erc721,{USDC.address},{B},1,5\n",
    )
    manifest = read_manifest(path, OPTS)
    assert manifest.format == "safe-csv"
    assert [(p.recipient, p.amount) for p in manifest.payouts] == [
        (A, 1_250_000),
        (B, 2_000_000),
        (C, 3_000_000),
    ]
    assert all(p.payout_id.startswith("auto-") for p in manifest.payouts)
    assert located(manifest) == [
        (4, "id", "safe_id_ignored"),
        (5, "token_type", "native_coin_unsupported"),
        (6, "token_type", "token_type_unsupported"),
    ]


def test_safe_format_refuses_extra_decimals_instead_of_rounding(tmp_path: Path) -> None:
    path = write(
        tmp_path, f"token_type,token_address,receiver,amount\nerc20,{USDC.address},{A},0.1234567\n"
    )
    assert located(read_manifest(path, OPTS)) == [(2, "amount", "amount_decimals")]


SAFE_APP = Path(__file__).parent / "safe_csv_airdrop"


def test_safe_app_sample_native_row_is_refused_not_paid_in_the_run_token() -> None:
    # The app's own sample file: a 5-column header whose ERC-20 and native rows have 4 fields,
    # an ERC-20 row of another token, a native row (empty token_address) and an NFT row.
    manifest = read_manifest(SAFE_APP / "app_sample.csv", OPTS)
    assert manifest.format == "safe-csv"
    # Only the row of the run's token is paid; the native row never becomes 0.0001 USDC.
    assert [(p.line, p.recipient, p.amount, p.token) for p in manifest.payouts] == [
        (2, "0x1000000000000000000000000000000000000000", 100, None)
    ]
    assert located(manifest) == [
        (3, "token_address", "token_unknown"),
        (4, "token_type", "native_coin_unsupported"),
        (5, "token_type", "token_type_unsupported"),
    ]
    other, native, nft = manifest.issues
    assert USDT.address in other.message and "--token" in other.message
    assert "native coin" in native.message and "18 decimals" in native.message
    assert "USDC" in native.message and "CSV Airdrop app" in native.message
    assert "NFT" in nft.message
    assert str(native).startswith(f"{SAFE_APP / 'app_sample.csv'}:4")


def test_safe_app_sample_routes_each_erc20_row_to_its_own_token() -> None:
    manifest = read_manifest(
        SAFE_APP / "app_sample.csv", ManifestOptions(token=USDC, tokens={"usdt": USDT})
    )
    assert [(p.line, p.amount, p.token) for p in manifest.payouts] == [
        (2, 100, None),
        (3, 100, USDT.address),
    ]
    assert [code for _l, _c, code in located(manifest)] == [
        "native_coin_unsupported",
        "token_type_unsupported",
    ]


def test_safe_empty_token_address_is_the_native_coin_in_every_header_form() -> None:
    # The app reads an empty token_address as the native coin whatever token_type says,
    # including the legacy header without token_type.
    legacy = read_manifest(SAFE_APP / "legacy_native.csv", OPTS)
    assert legacy.format == "safe-csv"
    assert [(p.line, p.amount) for p in legacy.payouts] == [(3, 2_500_000)]
    assert located(legacy) == [(2, "token_address", "native_coin_unsupported")]
    rows = read_manifest(SAFE_APP / "app_parser_rows.csv", OPTS)
    assert [(p.line, p.amount) for p in rows.payouts] == [(2, 1_000_000), (3, 69_420_000)]
    assert located(rows) == [
        (3, "receiver", "recipient_repeated"),
        (4, "token_address", "native_coin_unsupported"),
        (5, "receiver", "address_format"),
        (6, "token_type", "token_type_unsupported"),
        (7, "token_type", "token_type_unsupported"),
        (8, "token_type", "token_type_unsupported"),
    ]
    assert "chain prefix" in rows.issues[2].message
    assert "erc777" in rows.issues[5].message and "erc20" in rows.issues[5].message


def test_safe_rows_longer_than_the_header_are_still_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, f"token_type,token_address,receiver,amount\nerc20,{USDC.address},{A},1,9,9\n"
    )
    assert located(read_manifest(path, OPTS)) == [(2, "", "row_width")]


# --- JSON ---------------------------------------------------------------------------------------


def test_json_array_and_object_forms(tmp_path: Path) -> None:
    records = [
        {"recipient": A, "amount": "12.50", "id": "j1", "memo": "x"},
        {"recipient": B, "amount": 12.5, "id": 2},  # JSON number parsed exactly, int id
        {"Recipient": C, "Amount": 3},
    ]
    for content in (records, {"payouts": records}):
        path = write(tmp_path, json.dumps(content), "p.json")
        manifest = load_manifest(path, OPTS)
        assert manifest.format == "json"
        assert [(p.payout_id, p.amount, p.line) for p in manifest.payouts][:2] == [
            ("j1", 12_500_000, 1),
            ("2", 12_500_000, 2),
        ]
        assert manifest.payouts[2].amount == 3_000_000


def test_json_errors_name_the_record_and_field(tmp_path: Path) -> None:
    records = [
        {"recipient": A, "amount": "1"},
        {"recipient": A[:-1], "amount": True},
        {"recipient": B, "amout": "1"},
        "not an object",
        {"recipient": C, "amount": "1.0000001"},
    ]
    manifest = read_manifest(write(tmp_path, json.dumps(records), "p.json"), OPTS)
    assert [(i.line, i.column, i.code) for i in manifest.issues] == [
        (2, "amount", "syntax"),
        (3, "amout", "header_unknown"),
        (3, "", "column_missing"),
        (4, "", "syntax"),
        (5, "amount", "amount_decimals"),
    ]
    assert all(i.unit == "record" for i in manifest.issues)
    assert "p.json record 2" in str(manifest.issues[0])


def test_json_float_precision_is_not_lost(tmp_path: Path) -> None:
    path = write(tmp_path, '[{"recipient": "' + A + '", "amount": 0.1000001}]', "p.json")
    assert located(read_manifest(path, OPTS)) == [(1, "amount", "amount_decimals")]


def test_invalid_json_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, '[{"recipient": "' + A + '", "amount": "1"}, {"recipient": ', "p.json")
    manifest = read_manifest(path, OPTS)
    assert manifest.issues[-1].code == "syntax" and not manifest.ok


def test_json_with_bad_utf8_is_reported(tmp_path: Path) -> None:
    content = b'[{"recipient": "' + A.encode() + b'", "amount": "1", "memo": "\xe9"}]'
    manifest = read_manifest(write(tmp_path, content, "p.json"), OPTS)
    assert manifest.issues[0].code == "encoding" and "offset" in manifest.issues[0].message


def test_json_lines(tmp_path: Path) -> None:
    content = (
        json.dumps({"recipient": A, "amount": "1"})
        + "\n\n"
        + "{broken\n"
        + json.dumps({"recipient": B, "amount": "0"})
        + "\n"
    )
    manifest = read_manifest(write(tmp_path, content, "p.jsonl"), OPTS)
    assert manifest.format == "jsonl"
    assert [p.line for p in manifest.payouts] == [1]
    assert located(manifest) == [(3, "", "syntax"), (4, "amount", "amount_not_positive")]


# --- derived payout ids -------------------------------------------------------------------------


def test_derived_id_follows_the_documented_formula() -> None:
    text = f"ns\x1f{A}\x1f1500000\x1fmemo\x1f2"
    expected = "auto-" + hashlib.sha256(text.encode()).hexdigest()[:32]
    assert derive_payout_id(A, 1_500_000, "memo", 2, "ns") == expected


def test_derived_ids_are_stable_across_reruns_and_appends(tmp_path: Path) -> None:
    base = f"recipient,amount\n{A},1\n{B},2\n{A},1\n"
    first = load_manifest(write(tmp_path, base, "a.csv"), OPTS)
    ids = [p.payout_id for p in first.payouts]
    assert len(set(ids)) == 3  # the identical rows 2 and 4 are two payouts
    # Re-exported with another case, spacing and trailing zeros, plus a new row: same ids.
    again = load_manifest(
        write(tmp_path, f"recipient,amount\n{A.lower()}, 1.000\n{B},2\n{A},1\n{C},3\n", "b.csv"),
        OPTS,
    )
    assert [p.payout_id for p in again.payouts][:3] == ids
    assert ids[0] == derive_payout_id(A, 1_000_000, None, 0)
    assert ids[2] == derive_payout_id(A, 1_000_000, None, 1)


def test_memo_and_namespace_change_derived_ids(tmp_path: Path) -> None:
    path = write(tmp_path, f"recipient,amount,memo\n{A},1,\n{A},1,June payroll\n")
    plain = load_manifest(path, OPTS).payouts
    assert plain[0].payout_id != plain[1].payout_id
    other = ManifestOptions(token=USDC, id_namespace="2025-07")
    assert load_manifest(path, other).payouts[0].payout_id != plain[0].payout_id


def test_explicit_id_rules(tmp_path: Path) -> None:
    long_id = "x" * 129
    path = write(tmp_path, f"recipient,amount,id\n{A},1,{long_id}\n{B},1,  padded  \n")
    manifest = read_manifest(path, OPTS)
    assert located(manifest) == [(2, "id", "id_format")]
    assert manifest.payouts[0].payout_id == "padded"


def test_options_forbidden_accepts_any_case(tmp_path: Path) -> None:
    path = write(tmp_path, f"recipient,amount\n{DISBURSER}, 1\n")
    options = ManifestOptions(token=USDC, forbidden={DISBURSER.lower(): "the disburser"})
    assert located(read_manifest(path, options)) == [(2, "recipient", "recipient_forbidden")]


# --- the fast path and the generic validator agree ----------------------------------------------

_RECIPIENTS = [
    A,
    A.lower(),
    "0x" + A[2:].upper(),
    f" {B} ",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  # checksum typo
    "0x0000000000000000000000000000000000000000",
    T1,
    DISBURSER,
    USDC.address,
    "0x12",
    "",
    "0xé" + "a" * 39,
]
_AMOUNTS = [
    "1",
    "12.50",
    ".5",
    "1.",
    "0",
    "-1",
    "1.0000001",
    "1.5000000",
    "1e3",
    "",
    "x",
    "١",
    str(UINT96_MAX),
]
_IDS = ["", "", "id-1", "id-2", " id-1 ", "x" * 200]


@given(
    st.lists(
        st.tuples(st.sampled_from(_RECIPIENTS), st.sampled_from(_AMOUNTS), st.sampled_from(_IDS)),
        min_size=1,
        max_size=25,
    )
)
def test_fast_path_matches_the_generic_validator(rows: list[tuple[str, str, str]]) -> None:
    import tempfile

    body = "".join(f"{r},{a},{i}\n" for r, a, i in rows)
    with tempfile.TemporaryDirectory() as tmp:
        fast = read_manifest(write(Path(tmp), "recipient,amount,id\n" + body, "f.csv"), OPTS)
        # An (empty) network column disables the fast path: everything goes through row().
        slow_body = "".join(f"{r},{a},{i},\n" for r, a, i in rows)
        slow = read_manifest(
            write(Path(tmp), "recipient,amount,id,network\n" + slow_body, "f.csv"), OPTS
        )
    assert fast.payouts == slow.payouts
    assert [(i.line, i.column, i.code, i.message) for i in fast.issues] == [
        (i.line, i.column, i.code, i.message) for i in slow.issues
    ]
    assert (fast.rows, fast.error_count, fast.warning_count) == (
        slow.rows,
        slow.error_count,
        slow.warning_count,
    )
