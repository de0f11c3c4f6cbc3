"""Payout files: parse and validate CSV, Safe "CSV Airdrop", JSON and JSON Lines.

Every problem in a file is collected (not just the first), each with file, line (or JSON record),
column, a stable code and a message; :func:`load_manifest` raises :class:`ManifestError` carrying
all
of them, :func:`read_manifest` returns them for rendering. Files are streamed: a million rows are
validated in a few seconds without holding the file in memory.

Formats (column names are case-insensitive; aliases in :data:`COLUMN_ALIASES`)::

    recipient,amount,id,token,network,memo          # our CSV; only recipient and amount required
    token_type,token_address,receiver,amount,id     # Safe{Wallet} CSV Airdrop (id = NFT id, unused)
    [{"recipient": "0x..", "amount": "12.50", "id": "inv-1"}, ...]   # JSON array or {"payouts":
    [..]}
    {"recipient": "0x..", "amount": "12.50"}                          # JSON Lines, one per line

Amounts are token units (``12.50``); they become base units with the token's decimals, which the
caller reads from the chain and passes in (:class:`ManifestOptions`).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import gc
import hashlib
import io
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from payout.address import (
    _HEX_DIGITS,
    _LETTER_AS_8,
    _UPPER_AS_8,
    _ZERO40,
    CHECKERS,
    _checksum_lower,
    check_address,
    guess_network,
    keccak_256_hasher,
)
from payout.amount import check_amount, format_decimal
from payout.exceptions import ManifestError, PayoutError
from payout.types import FORMULA_PREFIXES, UINT96_MAX, Issue, Network, Payout, Severity, TokenInfo

_tuple_new = tuple.__new__
_from_bytes = int.from_bytes

# --- vocabulary ---------------------------------------------------------------------------------

#: Canonical field -> accepted column names (after lower-casing and turning spaces/dashes into
#: ``_``).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "recipient": ("recipient", "address", "receiver", "to", "recipient_address", "wallet"),
    "amount": ("amount", "value"),
    "id": ("id", "payout_id"),
    "token": ("token", "token_address"),
    "network": ("network",),
    "memo": ("memo", "reference", "ref", "note", "description"),
}
SAFE_COLUMNS = ("token_type", "token_address", "receiver", "amount", "value", "id")
NETWORK_NAMES: dict[str, Network] = {
    "evm": Network.EVM,
    "erc20": Network.EVM,
    "tron": Network.TRON,
    "trc20": Network.TRON,
}
#: Longest accepted explicit payout id (characters).
MAX_ID_LENGTH = 128
#: Prefix of derived payout ids (see :func:`derive_payout_id`).
DERIVED_ID_PREFIX = "auto-"

# Issue codes (documented in docs/pipeline.md).
E_EMPTY_FILE = "empty_file"
E_NO_ROWS = "no_rows"
E_ENCODING = "encoding"
E_BOM = "byte_order_mark"
E_HEADER_MISSING = "header_missing"
E_HEADER_UNKNOWN = "header_unknown"
E_HEADER_DUPLICATE = "header_duplicate"
E_COLUMN_MISSING = "column_missing"
E_ROW_WIDTH = "row_width"
E_SYNTAX = "syntax"
E_ID_DUPLICATE = "id_duplicate"
E_ID_FORMAT = "id_format"
E_RECIPIENT_IS_TOKEN = "recipient_is_token"
E_RECIPIENT_FORBIDDEN = "recipient_forbidden"
W_RECIPIENT_REPEATED = "recipient_repeated"
E_NETWORK = "network_unknown"
E_TOKEN = "token_unknown"
E_TOKEN_TYPE = "token_type_unsupported"
E_NATIVE = "native_coin_unsupported"
W_SAFE_ID_IGNORED = "safe_id_ignored"
W_UNNAMED_COLUMN = "column_unnamed"
W_CSV_FORMULA = "csv_formula"
E_TOO_MANY_ISSUES = "too_many_issues"


@dataclass(frozen=True)
class ManifestOptions:
    """What the validator needs to know that the file does not say.

    ``token`` is the default token (decimals from the chain) for rows without a token column. Rows
    naming another token find it in ``tokens`` (keyed by canonical address or symbol, any case) or
    through ``resolve_token(network, address)`` (e.g. reads decimals from the chain; may raise a
    :class:`PayoutError`, reported on the row). ``forbidden`` maps addresses that must never
    receive a
    payout (the disburser, ...) to a description. ``id_namespace`` is mixed into derived payout ids.
    """

    network: Network = Network.EVM
    token: TokenInfo | None = None
    tokens: Mapping[str, TokenInfo] = field(default_factory=dict)
    resolve_token: Callable[[Network, str], TokenInfo] | None = None
    forbidden: Mapping[str, str] = field(default_factory=dict)
    max_amount: int = UINT96_MAX
    id_namespace: str = ""
    #: Issues kept in :attr:`Manifest.issues` (all are counted); ``None`` keeps every one.
    max_issues: int | None = 10_000
    #: Warn when a recipient appears on several rows (two payouts to one person are often a
    #: mistake).
    warn_repeated_recipients: bool = True

    @classmethod
    def for_decimals(cls, decimals: int, **kwargs: Any) -> ManifestOptions:
        """Options for a token known only by its decimals (validation without a chain)."""
        network = kwargs.get("network", Network.EVM)
        return cls(token=TokenInfo("", "", decimals, network), **kwargs)


@dataclass
class Manifest:
    """A validated payout file. ``payouts`` holds only valid rows, in file order."""

    path: str
    format: str
    payouts: list[Payout]
    issues: list[Issue]
    rows: int
    error_count: int
    warning_count: int
    columns: tuple[str, ...] = ()
    sha256: str = ""
    #: Every token rows referred to, keyed by canonical address ("" for an address-less default).
    tokens: dict[str, TokenInfo] = field(default_factory=dict)
    counts_by_code: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.WARNING]

    def raise_for_errors(self) -> None:
        """Raise :class:`ManifestError` with every error if there is any."""
        if self.error_count:
            raise ManifestError(self.path, self.issues, self.error_count)

    def totals(self) -> dict[tuple[Network, str | None], tuple[int, int]]:
        """(network, token) -> (count, total base units) of the valid rows."""
        out: dict[tuple[Network, str | None], list[int]] = {}
        for p in self.payouts:
            acc = out.setdefault((p.network, p.token), [0, 0])
            acc[0] += 1
            acc[1] += p.amount
        return {k: (v[0], v[1]) for k, v in out.items()}


def derive_payout_id(
    recipient: str, amount: int, memo: str | None, occurrence: int, namespace: str = ""
) -> str:
    """Payout id of a row without an ``id``: a hash of what the row pays and how often it repeats.

    ``"auto-" + hex(sha256(namespace \\x1f recipient \\x1f amount \\x1f memo \\x1f
    occurrence))[:32]``
    with the canonical recipient, the amount in base units and ``occurrence`` = how many earlier
    rows
    of the file have the same (recipient, amount, memo), starting at 0. Appending rows or
    re-running an
    overlapping file re-derives the same ids, so only new rows are paid. Caveat: a later file that
    pays
    the same person the same amount with the same memo gets the same id and is treated as paid; give
    recurring payouts an ``id`` or a memo such as ``2025-06 payroll``, or pass an ``id_namespace``.
    """
    text = f"{namespace}\x1f{recipient}\x1f{amount}\x1f{memo or ''}\x1f{occurrence}"
    return DERIVED_ID_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# --- reading ------------------------------------------------------------------------------------


def load_manifest(path: str | os.PathLike[str], options: ManifestOptions) -> Manifest:
    """Read and validate a payout file; raise :class:`ManifestError` listing every error."""
    manifest = read_manifest(path, options)
    manifest.raise_for_errors()
    return manifest


def read_manifest(path: str | os.PathLike[str], options: ManifestOptions) -> Manifest:
    """Read and validate a payout file; never raises for content problems (see ``issues``).

    The format comes from the extension (``.json``, ``.jsonl``/``.ndjson``, anything else is CSV)
    and,
    for CSV, from the header (``token_type`` or ``receiver`` + ``token_address`` = Safe CSV
    Airdrop).
    """
    name = os.fspath(path)
    # The validator allocates one tuple per row and creates no reference cycles; the cyclic GC
    # would rescan the growing list of payouts again and again (~10% of the time at 1M rows).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            return _read(name, options, fast=True)
        except UnicodeDecodeError:
            # Rare: re-read line by line to report every undecodable line with its byte offset.
            return _read(name, options, fast=False)
    finally:
        if gc_was_enabled:
            gc.enable()


def _read(name: str, options: ManifestOptions, *, fast: bool) -> Manifest:
    v = _Validator(name, options)
    try:
        fh = open(name, "rb")  # noqa: SIM115 - closed in finally; streamed
    except OSError as exc:
        v.file_issue(
            E_EMPTY_FILE if isinstance(exc, FileNotFoundError) else E_ENCODING,
            f"cannot read the file: {exc.strerror or exc}",
        )
        return v.finish("unknown", ())
    hasher = hashlib.sha256()
    try:
        reader = _HashingReader(fh, hasher)
        head = reader.peek()
        kind = _detect_kind(name, head)
        if not head.strip(b" \t\r\n\xef\xbb\xbf"):
            v.file_issue(E_EMPTY_FILE, "the file is empty: add a header line and payout rows")
            return v.finish(kind, ())
        if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            v.file_issue(E_BOM, "the file is UTF-32 encoded; save it as UTF-8 (CSV UTF-8)")
            return v.finish(kind, ())
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            v.file_issue(
                E_BOM,
                "the file is UTF-16 encoded (a spreadsheet 'Unicode text' export?); "
                "save it as UTF-8 (CSV UTF-8)",
            )
            return v.finish(kind, ())
        if b"\x00" in head:
            v.file_issue(
                E_ENCODING,
                "the file contains NUL bytes (UTF-16 without a byte-order "
                "mark, or a binary file); save it as UTF-8 text",
            )
            return v.finish(kind, ())
        lines = reader.text_lines() if fast else _decoded_lines(reader, v)
        if kind == "json":
            columns = _read_json(reader, v)
        elif kind == "jsonl":
            columns = _read_jsonl(lines, v)
        else:
            columns = _read_csv(lines, v)
            kind = v.format or kind
        reader.drain()
    finally:
        fh.close()
    return v.finish(kind, columns, hasher.hexdigest())


def _detect_kind(name: str, head: bytes) -> str:
    lower = name.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if lower.endswith(".json"):
        return "json"
    return "csv"


class _HashingReader:
    """Binary line/chunk reader that hashes everything it reads and tracks byte offsets."""

    def __init__(self, fh: IO[bytes], hasher: Any) -> None:
        self._fh = fh
        self._hasher = hasher
        self.offset = 0

    def peek(self) -> bytes:
        pos = self._fh.tell()
        data = self._fh.read(4096)
        self._fh.seek(pos)
        return data

    def text_lines(self) -> Iterator[str]:
        """Strict UTF-8 lines decoded in C (a BOM is dropped); raises ``UnicodeDecodeError``."""
        raw = _HashingRaw(self._fh, self._hasher)
        return io.TextIOWrapper(
            io.BufferedReader(raw, 1 << 20), encoding="utf-8-sig", errors="strict", newline=""
        )

    def lines(self) -> Iterator[bytes]:
        update = self._hasher.update
        for raw in self._fh:
            update(raw)
            yield raw

    def read(self, size: int = 65536) -> bytes:
        data = self._fh.read(size)
        self._hasher.update(data)
        return data

    def drain(self) -> None:
        while data := self._fh.read(1 << 20):
            self._hasher.update(data)


class _HashingRaw(io.RawIOBase):
    """Raw stream over the open file that feeds every byte read to the hash."""

    def __init__(self, fh: IO[bytes], hasher: Any) -> None:
        self._fh = fh
        self._hasher = hasher

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._fh.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._hasher.update(data)
        return n


def _decoded_lines(reader: _HashingReader, v: _Validator) -> Iterator[str]:
    """UTF-8 lines; an undecodable line is reported (byte offset, line) and replaced by ``""``."""
    offset = 0
    for line, raw_line in enumerate(reader.lines(), start=1):
        raw = raw_line
        if line == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[3:]
            offset += 3
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1]
            v.add(
                line,
                "",
                E_ENCODING,
                f"byte 0x{bad.hex()} at byte offset {offset + exc.start} is not valid UTF-8 "
                f"(Latin-1/Windows-1252 export?); save the file as UTF-8",
            )
            v.bad_lines.add(line)
            # Keep the line count right for the CSV reader; the row itself is skipped.
            text = raw.decode("utf-8", "replace")
        offset += len(raw)
        yield text


# --- CSV ----------------------------------------------------------------------------------------


def _sniff_delimiter(header: str) -> str:
    if "," in header:
        return ","
    if ";" in header:
        return ";"
    if "\t" in header:
        return "\t"
    return ","


def _norm_header(name: str) -> str:
    return name.strip().strip("\ufeff").lower().replace(" ", "_").replace("-", "_")


def _read_csv(lines: Iterator[str], v: _Validator) -> tuple[str, ...]:
    # The header: first non-blank line.
    header_text = ""
    header_line = 0
    for text in lines:
        header_line += 1
        if text.strip():
            header_text = text
            break
    if not header_text.strip():
        v.file_issue(E_EMPTY_FILE, "the file is empty: add a header line and payout rows")
        return ()
    if header_line in v.bad_lines:
        v.file_issue(E_HEADER_MISSING, "the header line is not valid UTF-8")
        return ()
    delimiter = _sniff_delimiter(header_text)
    try:
        header = next(csv.reader([header_text], delimiter=delimiter))
    except csv.Error as exc:
        v.add(header_line, "", E_SYNTAX, f"cannot parse the header: {exc}")
        return ()
    layout = _resolve_header(header, header_line, v)
    if layout is None:
        return tuple(header)
    v.format = "safe-csv" if layout.safe else "csv"
    width = len(header)
    ri, ai, ii, ti, ni, mi, tti = (
        layout.index.get(k, -1)
        for k in ("recipient", "amount", "id", "token", "network", "memo", "token_type")
    )
    if layout.safe:
        ii = layout.index.get("nft_id", -1)
    v.set_columns(layout.names, safe=layout.safe)
    bad_lines = v.bad_lines
    # Rows: csv.reader over the remaining decoded lines; line_num counts physical lines read.
    # strict: a stray or unterminated quote is a syntax error, not a silently merged row.
    rdr = csv.reader(lines, delimiter=delimiter, strict=True)
    base = header_line

    def generic(fields: list[str], line: int) -> None:
        v.row(
            line,
            fields[ri],
            fields[ai],
            fields[ii] if ii >= 0 else "",
            fields[ti] if ti >= 0 else "",
            fields[ni] if ni >= 0 else "",
            fields[mi] if mi >= 0 else "",
            fields[tti] if tti >= 0 else "",
        )

    # Fast path for the common file (recipient, amount, optional id/memo; the run's token): it
    # only ever accepts a clean row, and hands anything else (errors, warnings, duplicates) to the
    # generic validator before touching any state, so both paths give identical results.
    token = v._default_for.get(v.network)
    fast = token is not None and ti < 0 and ni < 0 and tti < 0 and not layout.safe
    if fast and token is not None:
        check_recipient = CHECKERS[v.network]
        decimals, max_units, symbol = token.decimals, v.max_amount, token.symbol
        token_address = token.address
        forbidden = v.forbidden
        ids = v.ids
        recipients = v.recipients
        warn = v.warn_repeated
        namespace = v.namespace
        append = v.payouts.append
        network = v.network
        path = v.path
        accepted = 0
        evm = network is Network.EVM
        scale = 10**decimals
        frac_scale = [10 ** (decimals - k) for k in range(decimals + 1)]
    try:
        for fields in rdr:
            line = base + rdr.line_num
            if len(fields) != width:
                if not fields or not any(f.strip() for f in fields):
                    continue  # blank line, or only delimiters (spreadsheet padding)
                if line in bad_lines:
                    continue
                if len(fields) > width and not any(f.strip() for f in fields[width:]):
                    fields = fields[:width]  # trailing empty cells
                elif len(fields) < width and layout.safe:
                    # The Safe app's own files leave the trailing NFT ``id`` out of ERC-20 and
                    # native rows (its CSV reader fills missing trailing cells with nothing).
                    fields = fields + [""] * (width - len(fields))
                else:
                    v.add(
                        line,
                        "",
                        E_ROW_WIDTH,
                        f"row has {len(fields)} fields but the header has {width} "
                        f"(an unquoted {delimiter!r} inside a value?)",
                    )
                    v.rows += 1
                    continue
            elif bad_lines and line in bad_lines:
                v.rows += 1
                continue
            elif not fields[ri] and not any(f.strip() for f in fields):
                continue  # only delimiters (spreadsheet padding)
            if not fast:
                generic(fields, line)
                continue
            # Inlined copies of check_evm_address / check_amount for the clean case (function
            # calls are a third of the per-row cost); anything unusual takes the full checkers.
            text = fields[ri]
            recipient = None
            if evm and len(text) == 42 and text[:2] == "0x":
                raw = text[2:].encode("utf-8")
                if len(raw) == 40 and not raw.translate(None, _HEX_DIGITS):
                    low = raw.lower()
                    if raw == low or raw == raw.upper():
                        if low != _ZERO40:
                            recipient = _checksum_lower(low.decode("ascii"))
                    elif int(raw.translate(_UPPER_AS_8), 16) == _from_bytes(
                        keccak_256_hasher(low).digest()[:20], "big"
                    ) & int(raw.translate(_LETTER_AS_8), 16):
                        recipient = text
            if recipient is None:
                recipient = check_recipient(text)[0]
            if recipient is None or recipient == token_address or recipient in forbidden:
                generic(fields, line)
                continue
            text = fields[ai]
            whole, _dot, frac = text.partition(".")
            if (
                whole.isdigit()
                and text.isascii()
                and len(whole) < 40
                and len(frac) <= decimals
                and (not frac or frac.isdigit())
            ):
                amount = int(whole) * scale + (int(frac) * frac_scale[len(frac)] if frac else 0)
                if not 0 < amount <= max_units:
                    generic(fields, line)
                    continue
            else:
                found = check_amount(text, decimals, max_units, symbol)[0]
                if found is None:
                    generic(fields, line)
                    continue
                amount = found
            memo = (fields[mi].strip() or None) if mi >= 0 else None
            if memo is not None and memo.startswith(FORMULA_PREFIXES):
                generic(fields, line)  # valid, with a "formula" warning
                continue
            pid = fields[ii].strip() if ii >= 0 else ""
            if pid:
                if (
                    pid in ids
                    or len(pid) > MAX_ID_LENGTH
                    or not pid.isprintable()
                    or pid.startswith(FORMULA_PREFIXES)
                ):
                    generic(fields, line)
                    continue
            else:
                occurrence = 0
                pid = derive_payout_id(recipient, amount, memo, 0, namespace)
                while pid in ids:
                    occurrence += 1
                    pid = derive_payout_id(recipient, amount, memo, occurrence, namespace)
            if warn and recipient in recipients:
                generic(fields, line)  # valid, with a "repeated recipient" warning
                continue
            ids[pid] = line
            recipients[recipient] = line
            accepted += 1
            append(_tuple_new(Payout, (pid, recipient, amount, line, memo, None, network, path)))
    except csv.Error as exc:
        v.add(
            base + rdr.line_num,
            "",
            E_SYNTAX,
            f"CSV syntax error: {exc}; nothing after this line was read",
        )
    if fast:
        v.rows += accepted
    return tuple(header)


@dataclass
class _Layout:
    index: dict[str, int]
    names: dict[str, str]  # canonical -> name as written
    safe: bool


def _resolve_header(header: list[str], line: int, v: _Validator) -> _Layout | None:
    normalized = [_norm_header(h) for h in header]
    if _looks_like_data(header):
        v.add(
            line,
            "",
            E_HEADER_MISSING,
            "the first line looks like data, not a header: add a header line such as "
            "'recipient,amount'",
        )
        return None
    safe = "token_type" in normalized or (
        "receiver" in normalized and "token_address" in normalized
    )
    alias_of: dict[str, str] = {}
    if safe:
        alias_of = {
            "token_type": "token_type",
            "token_address": "token",
            "receiver": "recipient",
            "amount": "amount",
            "value": "amount",
            "id": "nft_id",
        }
    else:
        for field_name, aliases in COLUMN_ALIASES.items():
            for a in aliases:
                alias_of[a] = field_name
    index: dict[str, int] = {}
    names: dict[str, str] = {}
    ok = True
    known = sorted(alias_of)
    for pos, (raw, norm) in enumerate(zip(header, normalized, strict=True)):
        if not norm:
            v.add(
                line,
                "",
                W_UNNAMED_COLUMN,
                f"column {pos + 1} has no name; it is ignored",
                Severity.WARNING,
            )
            continue
        canon = alias_of.get(norm)
        if canon is None:
            close = difflib.get_close_matches(norm, known, n=1, cutoff=0.7)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            fmt = "Safe CSV Airdrop" if safe else "payout"
            v.add(
                line,
                raw,
                E_HEADER_UNKNOWN,
                f"unknown column '{raw.strip()}'{hint}; a {fmt} file has columns "
                + ", ".join(SAFE_COLUMNS if safe else COLUMN_ALIASES),
            )
            ok = False
            continue
        if canon in index:
            v.add(
                line,
                raw,
                E_HEADER_DUPLICATE,
                f"column '{raw.strip()}' repeats column '{names[canon]}'",
            )
            ok = False
            continue
        index[canon] = pos
        names[canon] = raw.strip()
    for required in ("recipient", "amount"):
        if required not in index:
            want = ("receiver" if safe else "recipient") if required == "recipient" else "amount"
            v.add(line, "", E_COLUMN_MISSING, f"the header has no '{want}' column")
            ok = False
    return _Layout(index, names, safe) if ok else None


def _looks_like_data(header: list[str]) -> bool:
    for cell in header:
        s = cell.strip()
        if not s:
            continue
        if guess_network(s) is not None and not s.replace("_", "").isalpha():
            return True
        if s.replace(".", "", 1).isdigit():
            return True
    return False


# --- JSON ---------------------------------------------------------------------------------------


class _Utf8Stream:
    """File-like ``read`` for ijson that decodes strictly and reports the byte offset of bad
    UTF-8."""

    def __init__(self, reader: _HashingReader, v: _Validator) -> None:
        self._reader = reader
        self._v = v
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._offset = 0
        self._first = True
        self.failed = False
        self._depth = 0

    def read(self, size: int = 65536) -> bytes:
        data = self._reader.read(size)
        if self._first and data.startswith(codecs.BOM_UTF8):
            data = data[3:]
            self._offset = 3
        self._first = False
        if self.failed:
            return b""
        buffered = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            where = self._offset - buffered + exc.start
            self._v.file_issue(
                E_ENCODING,
                f"byte at offset {where} is not valid UTF-8 (Latin-1/Windows-1252 export?); "
                f"save the file as UTF-8",
            )
            self.failed = True
            return b""
        # Brackets still open (strings ignored: a bracket inside an id only shifts the count).
        # ijson builds a nested value in time quadratic in its depth: ``[[[[...`` 100,000 deep
        # would run for minutes and exhaust memory, so the file is refused before it is parsed.
        self._depth += data.count(b"[") + data.count(b"{") - data.count(b"]") - data.count(b"}")
        if self._depth > _MAX_JSON_STREAM_DEPTH:
            self._v.file_issue(
                E_SYNTAX,
                f"JSON nested more than {_MAX_JSON_STREAM_DEPTH} levels deep by byte offset "
                f"{self._offset + len(data)}; a payout file is an array of flat objects",
            )
            self.failed = True
            return b""
        self._offset += len(data)
        return data


#: Open brackets a JSON payout file may have at once (it needs 3: {"payouts": [{...}]}).
_MAX_JSON_DEPTH = 256
#: The same bound for a whole JSON file, counted without skipping strings (cheap, per chunk):
#: higher, so brackets inside ids or memos never trip it; ijson parses 4,096 levels in ~0.3 s.
_MAX_JSON_STREAM_DEPTH = 4096
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _json_depth(text: str) -> int:
    """Deepest bracket nesting of one JSON text (strings skipped). Cheap for ordinary lines: the
    exact scan runs only when the line has more opening brackets than the limit."""
    if text.count("[") + text.count("{") <= _MAX_JSON_DEPTH:
        return 0
    depth = deepest = 0
    for char in _JSON_STRING.sub('""', text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _read_json(reader: _HashingReader, v: _Validator) -> tuple[str, ...]:
    import ijson  # local: only JSON files need it

    head = reader.peek().lstrip(b"\xef\xbb\xbf \t\r\n")
    prefix = "item" if head[:1] == b"[" else "payouts.item"
    if head[:1] not in (b"[", b"{"):
        v.file_issue(E_SYNTAX, 'a JSON payout file is an array of objects or {"payouts": [...]}')
        return ()
    stream = _Utf8Stream(reader, v)
    v.unit = "record"
    record = 0
    columns: dict[str, None] = {}
    try:
        for item in ijson.items(stream, prefix, use_float=False, map_type=_JsonObject):
            record += 1
            _json_record(item, record, v, columns)
    except ijson.JSONError as exc:
        if not stream.failed:
            v.add(record + 1, "", E_SYNTAX, f"invalid JSON after record {record}: {exc}")
    if record == 0 and not stream.failed and not v.error_count:
        v.file_issue(
            E_NO_ROWS,
            "the file has no payout records"
            + ("" if prefix == "item" else ' (expected {"payouts": [...]})'),
        )
    return tuple(columns)


def _read_jsonl(lines: Iterator[str], v: _Validator) -> tuple[str, ...]:
    columns: dict[str, None] = {}
    line = 0
    for text in lines:
        line += 1
        if line in v.bad_lines or not text.strip():
            continue
        if _json_depth(text) > _MAX_JSON_DEPTH:
            # ``[[[[...`` thousands deep exhausts the parser's stack (RecursionError, or a
            # segmentation fault when the interpreter's recursion limit is raised): refused first.
            v.add(
                line,
                "",
                E_SYNTAX,
                f"invalid JSON: nested too deeply (more than {_MAX_JSON_DEPTH} levels; a payout "
                "is one flat object)",
            )
            v.rows += 1
            continue
        try:
            item = json.loads(text, parse_float=Decimal, object_pairs_hook=_json_object)
        except json.JSONDecodeError as exc:
            v.add(line, "", E_SYNTAX, f"invalid JSON at column {exc.colno}: {exc.msg}")
            v.rows += 1
            continue
        _json_record(item, line, v, columns)
    return tuple(columns)


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers keys written more than once.

    JSON parsers keep the last value of a repeated key, so ``{"amount": "1", "amount": "1000"}``
    would silently pay 1000; the validator refuses such a record instead of guessing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.repeated: list[str] = []

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self:
            self.repeated.append(key)
        super().__setitem__(key, value)


def _json_object(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject()
    for key, value in pairs:
        obj[key] = value
    return obj


#: A JSON number whose integer part has more digits than this is refused from its exponent
#: instead of being written out (``1e300000000`` would be a 300 MB string).
_MAX_JSON_NUMBER_DIGITS = 100


def _json_text(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if value.is_finite() and value.adjusted() > _MAX_JSON_NUMBER_DIGITS:
            return str(value)  # exponent form: the amount check refuses it
        return format_decimal(value)
    return None


def _json_record(item: Any, where: int, v: _Validator, columns: dict[str, None]) -> None:
    if not isinstance(item, dict):
        v.add(where, "", E_SYNTAX, "each payout must be a JSON object")
        v.rows += 1
        return
    values = dict.fromkeys(COLUMN_ALIASES, "")
    names: dict[str, str] = {}
    bad = False
    for key in dict.fromkeys(getattr(item, "repeated", ())):
        v.add(where, key, E_HEADER_DUPLICATE, f"field '{key}' appears more than once")
        bad = True
    for key, value in item.items():
        columns.setdefault(key, None)
        norm = _norm_header(key)
        canon = next((c for c, aliases in COLUMN_ALIASES.items() if norm in aliases), None)
        if canon is None:
            close = difflib.get_close_matches(
                norm, [a for al in COLUMN_ALIASES.values() for a in al], 1, 0.7
            )
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            v.add(where, key, E_HEADER_UNKNOWN, f"unknown field '{key}'{hint}")
            bad = True
            continue
        if canon in names:
            v.add(where, key, E_HEADER_DUPLICATE, f"field '{key}' repeats '{names[canon]}'")
            bad = True
            continue
        names[canon] = key
        text = _json_text(value)
        if text is None:
            v.add(
                where,
                key,
                E_SYNTAX,
                f"field '{key}' must be a string" + (" or a number" if canon == "amount" else ""),
            )
            bad = True
            continue
        values[canon] = text
    for required in ("recipient", "amount"):
        if required not in names:
            v.add(where, "", E_COLUMN_MISSING, f"the record has no '{required}' field")
            bad = True
    if bad:
        v.rows += 1
        return
    for canon in COLUMN_ALIASES:
        names.setdefault(canon, canon)
    v.set_columns(names)
    v.row(
        where,
        values["recipient"],
        values["amount"],
        values["id"],
        values["token"],
        values["network"],
        values["memo"],
        "",
    )


# --- validation ---------------------------------------------------------------------------------


class _Validator:
    """Validates rows one by one and accumulates payouts and issues (the hot path)."""

    def __init__(self, path: str, options: ManifestOptions) -> None:
        self.path = path
        self.options = options
        self.format = ""
        self.unit = "line"
        self.payouts: list[Payout] = []
        self.issues: list[Issue] = []
        self.counts: Counter[str] = Counter()
        self.error_count = 0
        self.warning_count = 0
        self.rows = 0
        self.bad_lines: set[int] = set()
        self.ids: dict[str, int] = {}
        self.recipients: dict[str, int] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self._token_cache: dict[tuple[Network, str], TokenInfo | str] = {}
        self.forbidden = _normalize_forbidden(options.forbidden)
        self.default = options.token
        if self.default is not None:
            self.tokens[self.default.address] = self.default
        known = [*options.tokens.values(), *([self.default] if self.default else [])]
        self._by_address = {(t.network, t.address): t for t in known if t.address}
        self._symbols = {(t.network, t.symbol.lower()): t for t in known if t.symbol}
        for name, t in options.tokens.items():
            if check_address(t.network, name)[0] is None:
                self._symbols[(t.network, name.lower())] = t
        # Hot-path copies of options (attribute lookups on a frozen dataclass add up).
        self.network = options.network
        self.max_amount = options.max_amount
        self.namespace = options.id_namespace
        self.warn_repeated = options.warn_repeated_recipients
        self._default_for: dict[Network, TokenInfo] = {}
        if self.default is not None:
            self._default_for[self.default.network] = self.default
        self.set_columns({})

    # issues
    def add(
        self, line: int, column: str, code: str, message: str, severity: Severity = Severity.ERROR
    ) -> None:
        self.counts[code] += 1
        if severity is Severity.ERROR:
            self.error_count += 1
        else:
            self.warning_count += 1
        limit = self.options.max_issues
        if limit is None or len(self.issues) < limit:
            self.issues.append(Issue(self.path, line, column, code, message, severity, self.unit))

    def file_issue(self, code: str, message: str) -> None:
        self.add(0, "", code, message)

    # tokens
    def _token(self, network: Network, text: str) -> TokenInfo | str:
        """TokenInfo for a row's token cell (address or known symbol), or an error message."""
        key = (network, text)
        cached = self._token_cache.get(key)
        if cached is not None:
            return cached
        result: TokenInfo | str
        address, _code, _message = check_address(network, text)
        if address is None:
            found = self._symbols.get((network, text.lower()))
            result = (
                found
                if found is not None
                else (f"token {text!r} is neither a known token symbol nor a {network} address")
            )
        else:
            found = self._by_address.get((network, address))
            if found is not None:
                result = found
            elif self.options.resolve_token is not None:
                try:
                    result = self.options.resolve_token(network, address)
                except PayoutError as exc:
                    result = f"token {address}: {exc}"
            else:
                default = self._default_for.get(network)
                run = f" ({default.symbol or default.address})" if default else ""
                result = (
                    f"token {address} is not the token of this run{run}: pay its rows in a "
                    f"separate run with --token {address}"
                )
        if isinstance(result, TokenInfo):
            self.tokens[result.address] = result
        self._token_cache[key] = result
        return result

    def _safe_erc20(self, line: int, token_type: str, token_cell: str, recipient: str) -> bool:
        """Whether a Safe CSV Airdrop row is an ERC-20 transfer; reports (and refuses) the rest.

        The Safe app reads an empty ``token_address`` as the chain's native coin (18 decimals)
        whatever ``token_type`` says, and ``nft``/``erc721``/``erc1155`` as NFT transfers. This
        toolkit pays ERC-20 tokens only: such a row is refused, never paid in the run's token.
        """
        kind = token_type.strip().lower() if token_type else ""
        col_type = self.names.get("token_type", "token_type")
        if kind in ("nft", "erc721", "erc1155"):
            self.add(
                line,
                col_type,
                E_TOKEN_TYPE,
                f"token_type {token_type.strip()!r} is an NFT transfer; this toolkit pays ERC-20 "
                "tokens only: send NFT rows with the Safe CSV Airdrop app and remove them here",
            )
            return False
        if kind not in ("", "erc20", "native"):
            self.add(
                line,
                col_type,
                E_TOKEN_TYPE,
                f"unknown token_type {token_type.strip()!r}; the Safe CSV Airdrop format has "
                "erc20 (or empty), native, nft, erc721 and erc1155, and this toolkit pays erc20",
            )
            return False
        if kind == "native" or not token_cell:
            default = self._default_for.get(self.network)
            instead = f" and is not paid in {default.symbol or default.address}" if default else ""
            what = "token_type 'native'" if kind == "native" else "an empty token_address"
            self.add(
                line,
                col_type if kind == "native" else self._col_token,
                E_NATIVE,
                f"{what} means the chain's native coin (e.g. ETH; 18 decimals) in the Safe CSV "
                f"Airdrop app; this toolkit pays ERC-20 tokens only, so the row is refused"
                f"{instead}: send native-coin rows with the Safe CSV Airdrop app (or a wallet) "
                "and remove them here, or put the ERC-20 token's address in token_address",
            )
            return False
        prefix, colon, rest = recipient.strip().partition(":")
        if colon and rest.startswith("0x") and prefix.replace("-", "").isalnum():
            self.add(
                line,
                self._col_recipient,
                "address_format",
                f"receiver {recipient.strip()!r} has an EIP-3770 chain prefix {prefix + ':'!r}; "
                "write the plain 0x address (this toolkit takes the chain from --rpc-url)",
            )
            return False
        return True

    def set_columns(self, names: Mapping[str, str], *, safe: bool = False) -> None:
        """Column names as written (for issue locations); ``safe``: Safe CSV Airdrop rows."""
        self.names = dict(names)
        self._safe = safe
        self._col_recipient = names.get("recipient", "recipient")
        self._col_amount = names.get("amount", "amount")
        self._col_id = names.get("id", "id")
        self._col_token = names.get("token", "token")
        self._col_network = names.get("network", "network")

    def row(
        self,
        line: int,
        recipient_text: str,
        amount_text: str,
        id_text: str,
        token_text: str,
        network_text: str,
        memo_text: str,
        token_type: str,
    ) -> None:
        """Validate one row; append a :class:`Payout` if it has no error. The hot path: keep it
        lean (every attribute lookup here runs a million times for a large file)."""
        self.rows += 1
        errors_before = self.error_count
        # network
        if network_text:
            found_network = NETWORK_NAMES.get(network_text.strip().lower())
            if found_network is None:
                self.add(
                    line,
                    self._col_network,
                    E_NETWORK,
                    f"unknown network {network_text.strip()!r}; use one of "
                    + ", ".join(sorted(NETWORK_NAMES)),
                )
                return
            network = found_network
        else:
            network = self.network
        # token
        token_cell = token_text.strip() if token_text else ""
        if self._safe and not self._safe_erc20(line, token_type, token_cell, recipient_text):
            return
        token: TokenInfo | None
        if token_cell:
            found = self._token(network, token_cell)
            if isinstance(found, str):
                self.add(line, self._col_token, E_TOKEN, found)
                token = None
            elif found.network is not network:
                self.add(
                    line,
                    self._col_token,
                    E_TOKEN,
                    f"token {found.symbol or found.address} is a {found.network} token "
                    f"but the row is for {network}",
                )
                token = None
            else:
                token = found
        else:
            token = self._default_for.get(network)
            if token is None:
                self.add(
                    line,
                    self._col_token,
                    E_TOKEN,
                    f"no token for this {network} row: add a token column or pass the token",
                )
        # recipient
        recipient, code, message = CHECKERS[network](recipient_text)
        if recipient is None:
            self.add(
                line,
                self._col_recipient,
                code or "address_format",
                (message or "invalid")
                + ("" if network is self.network else f" (row network {network})"),
            )
        else:
            if token is not None and token.address == recipient:
                self.add(
                    line,
                    self._col_recipient,
                    E_RECIPIENT_IS_TOKEN,
                    f"recipient {recipient} is the token contract itself; "
                    "tokens sent there are lost",
                )
            if self.forbidden:
                why = self.forbidden.get(recipient)
                if why is not None:
                    self.add(
                        line,
                        self._col_recipient,
                        E_RECIPIENT_FORBIDDEN,
                        f"recipient {recipient} is {why}",
                    )
        # amount
        amount: int | None = None
        if token is not None:
            amount, code, message = check_amount(
                amount_text, token.decimals, max_units=self.max_amount, symbol=token.symbol
            )
            if amount is None:
                self.add(line, self._col_amount, code or "amount_format", message or "")
        # id
        memo = (memo_text.strip() or None) if memo_text else None
        if self._safe:
            pid = ""
            if id_text.strip():
                self.add(
                    line,
                    self.names["nft_id"],
                    W_SAFE_ID_IGNORED,
                    "the Safe CSV 'id' column is an NFT token id; it is ignored for ERC-20 rows",
                    Severity.WARNING,
                )
        else:
            pid = id_text.strip() if id_text else ""
        ids = self.ids
        if pid:
            if len(pid) > MAX_ID_LENGTH or not pid.isprintable():
                self.add(
                    line,
                    self._col_id,
                    E_ID_FORMAT,
                    f"payout id must be printable and at most {MAX_ID_LENGTH} characters",
                )
                return
            first = ids.get(pid)
            if first is not None:
                self.add(
                    line,
                    self._col_id,
                    E_ID_DUPLICATE,
                    f"payout id {pid!r} is also used on {self.unit} {first}",
                )
                return
        if self.error_count != errors_before or recipient is None or amount is None:
            if pid:
                ids[pid] = line
            return
        if pid.startswith(FORMULA_PREFIXES):
            self._formula_warning(line, self._col_id, "payout id", pid)
        if memo is not None and memo.startswith(FORMULA_PREFIXES):
            self._formula_warning(line, self.names.get("memo", "memo"), "memo", memo)
        if not pid:
            namespace = self.namespace
            occurrence = 0
            pid = derive_payout_id(recipient, amount, memo, 0, namespace)
            while pid in ids:
                occurrence += 1
                pid = derive_payout_id(recipient, amount, memo, occurrence, namespace)
        ids[pid] = line
        if self.warn_repeated:
            first = self.recipients.setdefault(recipient, line)
            if first != line:
                self.add(
                    line,
                    self._col_recipient,
                    W_RECIPIENT_REPEATED,
                    f"recipient {recipient} also appears on {self.unit} {first}",
                    Severity.WARNING,
                )
        # tuple.__new__ skips NamedTuple's Python-level __new__ (measurably faster at 1M rows).
        self.payouts.append(
            _tuple_new(
                Payout,
                (
                    pid,
                    recipient,
                    amount,
                    line,
                    memo,
                    None if token is self.default or token is None else token.address,
                    network,
                    self.path,
                ),
            )
        )

    def _formula_warning(self, line: int, column: str, what: str, value: str) -> None:
        self.add(
            line,
            column,
            W_CSV_FORMULA,
            f"the {what} {value[:40]!r} starts with {value[0]!r}: a spreadsheet would run it as "
            "a formula; reports escape it with a leading ' (change it if it is not meant so)",
            Severity.WARNING,
        )

    def finish(self, kind: str, columns: Iterable[str], sha256: str = "") -> Manifest:
        if kind != "unknown" and self.rows == 0 and self.error_count == 0:
            self.file_issue(E_NO_ROWS, "the file has a header but no payout rows")
        return Manifest(
            path=self.path,
            format=kind,
            payouts=self.payouts,
            issues=self.issues,
            rows=self.rows,
            error_count=self.error_count,
            warning_count=self.warning_count,
            columns=tuple(columns),
            sha256=sha256,
            tokens=dict(self.tokens),
            counts_by_code=dict(self.counts),
        )


def _normalize_forbidden(forbidden: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for address, why in forbidden.items():
        for network in (Network.EVM, Network.TRON):
            canonical, _c, _m = check_address(network, address)
            if canonical is not None:
                out[canonical] = why
    return out
