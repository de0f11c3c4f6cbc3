"""``payout safe propose | review | sign | merge | execute``: pay from a Safe multisig.

The proposer turns a payout file into one Safe transaction per batch (a proposal file); each
signer reviews and signs it on their own machine; signature files are merged; anyone executes once
the threshold is met. Every step re-checks the chain and recomputes every hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from payout._cli.options import (
    ADDRESS,
    console,
    disburser_option,
    emit_json,
    json_option,
    ledger_option,
    open_signer,
    retry_skipped_option,
    rpc_option,
    send_options,
    send_settings,
    signer_options,
    units,
)

DEFAULT_PROPOSAL = Path("safe-proposal.json")


def _service_options(f: Any) -> Any:
    f = click.option(
        "--service-api-key",
        envvar="PAYOUT_SAFE_SERVICE_API_KEY",
        default=None,
        help="Transaction Service API key (env PAYOUT_SAFE_SERVICE_API_KEY).",
    )(f)
    f = click.option(
        "--service-url",
        envvar="PAYOUT_SAFE_SERVICE_URL",
        default=None,
        help="Safe Transaction Service base URL (env PAYOUT_SAFE_SERVICE_URL; default: the "
        "hosted service of the chain, which needs an API key).",
    )(f)
    return f


def _service(chain_id: int, url: str | None, api_key: str | None) -> Any:
    from payout.safe.service import SafeService, ServiceConfig

    return SafeService(chain_id, ServiceConfig.resolve(url, api_key))


def _nonces_option(f: Any) -> Any:
    return click.option(
        "--nonce",
        "nonces",
        type=click.IntRange(min=0),
        multiple=True,
        help="Only the Safe transaction(s) with this nonce (repeatable; default: all).",
    )(f)


def _signer_review_options(f: Any) -> Any:
    """What a signer checks the proposal against (shared by ``review`` and ``sign``)."""
    f = ledger_option(f)
    f = click.option(
        "--file",
        "payout_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="The payout file the operator planned: every row of the proposal is compared with "
        "it (added, removed, changed rows are refused).",
    )(f)
    f = click.option(
        "--safe", "expected_safe", type=ADDRESS, default=None, help="Safe you expect."
    )(f)
    f = click.option(
        "--token",
        "expected_token",
        type=ADDRESS,
        envvar="PAYOUT_TOKEN",
        default=None,
        help="Token you mean to pay, from your own records (env PAYOUT_TOKEN). Required unless "
        "the operator's ledger (--ledger) planned these batches.",
    )(f)
    return f


def _signer_review(
    chain: Any,
    proposal: Any,
    expected_token: str | None,
    expected_safe: str | None,
    payout_file: Path | None,
    ledger_url: str | None,
) -> Any:
    """The one review ``review`` shows and ``sign`` enforces."""
    from payout.safe.review import open_ledger_if_present, review_for_signer

    ledger = open_ledger_if_present(ledger_url)
    try:
        return review_for_signer(
            chain,
            proposal,
            token=expected_token,
            safe=expected_safe,
            payout_file=payout_file,
            ledger=ledger,
        )
    finally:
        if ledger is not None:
            ledger.close()


@click.group()
def safe() -> None:
    """Pay from a Safe multisig: propose -> review -> sign -> merge -> execute.

    \b
    payout safe propose payouts.csv --safe SAFE --token TOKEN   (writes safe-proposal.json)
    payout safe review safe-proposal.json                       (each signer, before signing)
    payout safe sign safe-proposal.json --keystore me.json --out sig-me.json
    payout safe merge safe-proposal.json sig-*.json --out signed.json
    payout safe execute signed.json --keystore executor.json
    """


# --- propose -------------------------------------------------------------------------------------


@safe.command()
@click.argument("payout_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--safe", "safe_address", type=ADDRESS, required=True, help="The paying Safe.")
@click.option(
    "--token",
    type=ADDRESS,
    envvar="PAYOUT_TOKEN",
    required=True,
    help="ERC-20 token address (env PAYOUT_TOKEN); decimals and symbol are read from the chain.",
)
@disburser_option
@rpc_option
@ledger_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_PROPOSAL,
    show_default=True,
    help="Proposal file to write.",
)
@click.option(
    "--nonce",
    "start_nonce",
    type=click.IntRange(min=0),
    default=None,
    help="First Safe nonce (default: max(on-chain nonce, highest queued nonce + 1)).",
)
@click.option(
    "--on-failure",
    type=click.Choice(["refuse", "exclude", "skip"]),
    default="refuse",
    show_default=True,
    help="When simulation predicts failing rows: refuse, exclude them (they stay owed, status "
    "skipped), or pay in skip-and-report mode (disburseOrSkip).",
)
@retry_skipped_option
@click.option("--max-batch-size", type=click.IntRange(min=1), default=None)
@click.option("--gas-margin", type=click.IntRange(min=0), default=None)
@click.option(
    "--multisend",
    type=ADDRESS,
    default=None,
    help="MultiSendCallOnly library (default: the canonical 1.4.1, else 1.3.0, found on chain).",
)
@click.option(
    "--tx-builder",
    "tx_builder_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write Safe{Wallet} Transaction Builder files (one per batch) into this folder.",
)
@click.option(
    "--post",
    is_flag=True,
    help="Sign as the proposer (--keystore/--account) and post to the Transaction Service.",
)
@signer_options
@_service_options
@json_option
def propose(
    payout_file: Path,
    safe_address: str,
    token: str,
    disburser: str | None,
    rpc_url: str,
    ledger_url: str | None,
    out: Path,
    start_nonce: int | None,
    on_failure: str,
    retry_skipped: bool,
    max_batch_size: int | None,
    gas_margin: int | None,
    multisend: str | None,
    tx_builder_dir: Path | None,
    post: bool,
    keystore: Path | None,
    account_alias: str | None,
    service_url: str | None,
    service_api_key: str | None,
    as_json: bool,
) -> None:
    """Validate PAYOUT_FILE and propose one Safe transaction per batch.

    Rows already paid from this Safe are left out, and so are rows in a proposal that can still
    execute. Rows set aside as skipped (excluded, or skipped on chain) are still owed and are
    proposed again only with --retry-skipped. The plan is stored in the ledger (executor `safe`);
    the proposal file goes to the signers.

    Exit status: 2 if rows are predicted to fail and --on-failure is refuse (as plan and send),
    5 if the Safe cannot cover the plan.
    """
    from payout.chain import Chain
    from payout.exceptions import InputError
    from payout.ledger import Ledger
    from payout.manifest import ManifestOptions, load_manifest
    from payout.safe.pipeline import propose_payouts
    from payout.safe.proposal import save_proposal
    from payout.types import TokenInfo

    chain = Chain(rpc_url)
    info = chain.token(token)
    token_info = TokenInfo(info.address, info.symbol, info.decimals, chain_id=chain.chain_id)
    from payout.deployment import verify_disburser

    disburser_address = verify_disburser(chain, disburser)
    manifest = load_manifest(
        payout_file,
        ManifestOptions(
            token=token_info,
            forbidden={
                disburser_address: "the disburser",
                token_info.address: "the token",
                safe_address: "the paying Safe",
            },
        ),
    )
    other = [p for p in manifest.payouts if p.token not in (None, token_info.address)]
    if other:
        raise InputError(
            f"{len(other)} row(s) pay another token (first: {other[0].token})",
            hint="A Safe proposal pays one token: split the file, or leave the token column out.",
        )
    service = _service(chain.chain_id, service_url, service_api_key) if post else None
    with Ledger.open(ledger_url) as ledger:
        outcome = propose_payouts(
            chain,
            ledger,
            safe=safe_address,
            payouts=manifest.payouts,
            token=token_info,
            disburser=disburser_address,
            on_failure=on_failure,
            max_batch_size=max_batch_size,
            gas_margin=gas_margin,
            start_nonce=start_nonce,
            multisend=multisend,
            service=service,
            source=str(payout_file),
            source_sha256=manifest.sha256,
            retry_skipped=retry_skipped,
        )
    proposal = outcome.proposal
    tx_files: list[Path] = []
    posted: list[str] = []
    if proposal is not None:
        if post and service is not None:
            from payout.safe.signature import sign_proposal

            signer = open_signer(keystore, account_alias)
            proposal, sigs = sign_proposal(chain, proposal, signer)
            for tx, sig in zip(
                sorted(proposal.transactions, key=lambda t: t.nonce), sigs, strict=True
            ):
                posted.append(service.submit(proposal, tx, sig))
        save_proposal(proposal, out)
        if tx_builder_dir is not None:
            from payout.safe.txbuilder import export_batches

            tx_files = export_batches(proposal, tx_builder_dir)
    reg = outcome.registration
    data: dict[str, Any] = {
        "proposal": str(out) if proposal else None,
        "safe": safe_address,
        "chainId": chain.chain_id,
        "token": {"address": token_info.address, "symbol": token_info.symbol},
        "rows": manifest.rows,
        "new": reg.new,
        "toPay": outcome.to_pay,
        "alreadyPaid": len(reg.paid),
        "inFlight": len(reg.in_flight),
        "inPendingProposal": len(outcome.pending),
        "settledFromChain": outcome.settled,
        "excluded": [
            {
                "payoutId": f.payout_id,
                "recipient": f.recipient,
                "reason": f.reason,
                "source": f.source,
                "line": f.line,
            }
            for f in outcome.excluded
        ],
        "mode": str(outcome.mode),
        "skipped_still_owed": outcome.skipped_still_owed,
        "retried_skipped": outcome.retried_skipped,
        "transactions": [
            {
                "nonce": tx.nonce,
                "safeTxHash": "0x" + tx.safe_tx_hash.hex(),
                "batchId": "0x" + tx.batch.batch_id.hex(),
                "count": tx.batch.count,
                "total": tx.batch.total,
            }
            for tx in (proposal.transactions if proposal else ())
        ],
        "txBuilderFiles": [str(p) for p in tx_files],
        "service": posted,
        "warnings": [str(i) for i in manifest.warnings],
    }
    if as_json:
        emit_json(data)
        return
    out_console = console()
    for warning in manifest.warnings[:20]:
        out_console.print(f"[yellow]warning[/]: {warning}")
    summary = (
        f"{manifest.rows} rows: {outcome.to_pay} to pay, "
        f"{len(reg.paid)} already paid, {len(reg.in_flight)} in flight, "
        f"{len(outcome.pending)} in a proposal that can still execute, "
        f"{len(outcome.excluded)} excluded"
    )
    if outcome.retried_skipped:
        summary += (
            f"; planned again with --retry-skipped: {outcome.retried_skipped} row(s) set aside "
            "as skipped earlier"
        )
    out_console.print(summary)
    from payout._cli.render import skipped_owed_note

    if note := skipped_owed_note(outcome.skipped_still_owed):
        out_console.print(f"[yellow]Still owed[/]: {note}")
    if proposal is None:
        out_console.print("Nothing to propose.")
        return
    from rich.table import Table

    table = Table(
        title=f"Safe {proposal.safe} (v{proposal.safe_version}) on chain {proposal.chain_id}"
    )
    for col in ("nonce", "batch", "recipients", f"total {token_info.symbol}", "safeTxHash"):
        table.add_column(col)
    for tx in proposal.transactions:
        table.add_row(
            str(tx.nonce),
            str(tx.batch.index),
            str(tx.batch.count),
            units(tx.batch.total, token_info.decimals),
            "0x" + tx.safe_tx_hash.hex(),
        )
    out_console.print(table)
    # The signers check the token and the rows against what they know, not against the file.
    checks = f"--token {token_info.address} --file {payout_file.name}"
    out_console.print(
        f"Wrote {out}. Next: send it and {payout_file.name} to each signer, who runs "
        f"`payout safe review {out} {checks}` then `payout safe sign {out} {checks}`."
    )
    for path in tx_files:
        out_console.print(f"Transaction Builder file: {path}")
    for line in posted:
        out_console.print(f"Transaction Service: {line}")


# --- review --------------------------------------------------------------------------------------


@safe.command()
@click.argument("proposal_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@rpc_option
@_signer_review_options
@click.option("--full", is_flag=True, help="List every recipient (default: digest when long).")
@json_option
def review(
    proposal_file: Path,
    rpc_url: str,
    expected_token: str | None,
    expected_safe: str | None,
    payout_file: Path | None,
    ledger_url: str | None,
    full: bool,
    as_json: bool,
) -> None:
    """Check a proposal against the chain before signing; shows what the wallet will display.

    The token is named by the chain (address, symbol, name, decimals) and must be the one you
    expect (--token, or the operator's ledger); with --file (and the ledger when present) every row
    is compared with what the operator planned. Exits non-zero when anything critical is found
    (do not sign then); `sign` runs the very same checks.
    """
    from payout.chain import Chain
    from payout.safe.proposal import load_proposal
    from payout.safe.review import rejection, require_clean, review_to_json

    chain = Chain(rpc_url)
    proposal = load_proposal(proposal_file)
    result = _signer_review(chain, proposal, expected_token, expected_safe, payout_file, ledger_url)
    if not as_json:
        _render_review(result, full)
        require_clean(result)
        return
    emit_json(review_to_json(result, full=full))
    error = rejection(result)
    if error is not None:
        # One JSON document on stdout ("ok": false and the findings say why); the verdict on
        # stderr and in the exit status, as for any other refusal.
        click.secho(f"Error: {error}", fg="red", err=True)
        click.get_current_context().exit(error.exit_code)


def _render_review(result: Any, full: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from payout.safe.review import CRITICAL, FULL_LIST_LIMIT, WARNING

    c = console()
    colors = {CRITICAL: "red", WARNING: "yellow"}
    # Amounts and symbol as the chain states them, never as the file does.
    decimals, symbol = result.token.decimals, escape(result.token.symbol)
    if result.safe is not None:
        s = result.safe
        c.print(
            f"Safe {s.address} v{s.version} on chain {result.chain_id}: threshold {s.threshold} "
            f"of {len(s.owners)}, nonce {s.nonce}"
        )
    t = result.token
    confirmed = (
        f"[green]confirmed by {t.confirmed_by}[/]"
        if t.confirmed_by
        else "[red]not confirmed[/] (pass --token with the address from your own records)"
    )
    described = (
        f'{symbol} "{escape(t.name)}", {t.decimals} decimals (read from the token contract)'
        if t.on_chain
        else "[red]not an ERC-20 token on this chain[/]"
    )
    c.print(f"Token {t.address}: {described}; {confirmed}")
    for f in result.findings:
        c.print(f"[{colors.get(f.severity, 'white')}]{f.severity}[/]: {escape(f.message)}")
    _render_rows(result, decimals, symbol)
    for tx in result.transactions:
        d = tx.decoded
        c.rule(f"Safe transaction nonce {tx.nonce}: {tx.status}")
        c.print("What your hardware wallet shows (EIP-712):")
        c.print(f"  domain hash   0x{tx.hashes.domain_hash.hex()}")
        c.print(f"  message hash  0x{tx.hashes.message_hash.hex()}")
        c.print(f"  safeTxHash    0x{tx.hashes.safe_tx_hash.hex()}")
        if d.total is not None:
            c.print(
                f"Pays {units(d.total, decimals)} {symbol} ({d.token}) to {d.count} recipients "
                f"({d.mode} mode) through {d.disburser}; batch id 0x{(d.batch_id or b'').hex()}"
            )
            c.print(f"Approvals: {', '.join(units(a, decimals) for a in d.approvals)} {symbol}")
            c.print(f"Recipients digest (keccak256 of the packed list): 0x{d.digest.hex()}")
            shown = list(enumerate(d.recipients))
            if not full and len(shown) > FULL_LIST_LIMIT:
                shown = shown[:3] + shown[-3:]
            table = Table(show_header=True)
            table.add_column("#")
            table.add_column("recipient")
            table.add_column(symbol, justify="right")
            for i, (recipient, amount) in shown:
                table.add_row(str(i), recipient, units(amount, decimals))
            c.print(table)
            if not full and d.count > FULL_LIST_LIMIT:
                c.print(f"... {d.count - 6} more (use --full to list all)")
        for sig in tx.signatures:
            mark = "[green]valid[/]" if sig.valid else f"[red]invalid[/] ({sig.reason})"
            c.print(f"  signature {sig.owner} {sig.kind}: {mark}")
        c.print(f"  {tx.valid_signatures} of {tx.threshold} signatures")
        for f in tx.findings:
            c.print(f"[{colors.get(f.severity, 'white')}]{f.severity}[/]: {escape(f.message)}")
    verdict = "[green]OK to sign[/]" if result.ok else "[red]DO NOT SIGN[/]"
    c.print(verdict)


def _render_rows(result: Any, decimals: int, symbol: str) -> None:
    """The rows that differ from what the operator planned, one per line of a table."""
    from rich.markup import escape
    from rich.table import Table

    rows = result.rows
    c = console()
    if rows.compared_with:
        c.print(
            f"Rows compared with {', '.join(escape(x) for x in rows.compared_with)}: "
            f"{len(rows.differences)} differ"
            + (
                f", {len(rows.not_proposed)} of the file not in this proposal"
                if rows.not_proposed
                else ""
            )
        )
    if not rows.differences:
        return

    def side(row: Any) -> str:
        return "" if row is None else f"{row[0]} {units(row[1], decimals)}"

    table = Table(title="Rows that differ from what was planned", show_header=True)
    for col in ("", "where", "payout id", "nonce", "planned", "proposed"):
        table.add_column(col)
    for d in rows.differences:
        table.add_row(
            d.kind,
            escape(d.where),
            escape(d.payout_id),
            "" if d.nonce is None else str(d.nonce),
            side(d.planned),
            side(d.proposed),
        )
    c.print(table)
    c.print(f"(amounts in {symbol})")


# --- sign ----------------------------------------------------------------------------------------


@safe.command()
@click.argument("proposal_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@rpc_option
@signer_options
@_signer_review_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the signed copy here (default: add the signature to PROPOSAL_FILE).",
)
@click.option(
    "--eth-sign",
    "eth_sign",
    is_flag=True,
    help="eth_sign instead of EIP-712 (message-only wallets).",
)
@click.option(
    "--on-chain",
    is_flag=True,
    help="Approve on chain (approveHash transaction from the owner) instead of signing.",
)
@click.option(
    "--owner-safe",
    type=ADDRESS,
    default=None,
    help="Sign as an owner of this Safe, which is itself an owner (contract signature).",
)
@_nonces_option
@click.option("--post", is_flag=True, help="Also post the signature to the Transaction Service.")
@_service_options
@json_option
def sign(
    proposal_file: Path,
    rpc_url: str,
    keystore: Path | None,
    account_alias: str | None,
    expected_token: str | None,
    expected_safe: str | None,
    payout_file: Path | None,
    ledger_url: str | None,
    out: Path | None,
    eth_sign: bool,
    on_chain: bool,
    owner_safe: str | None,
    nonces: Sequence[int],
    post: bool,
    service_url: str | None,
    service_api_key: str | None,
    as_json: bool,
) -> None:
    """Review, then sign every Safe transaction of PROPOSAL_FILE as one owner.

    The review is the one `payout safe review` shows, with the same options (--token, --file,
    --ledger): whatever it refuses is not signed.
    """
    from payout.chain import Chain
    from payout.exceptions import InputError
    from payout.safe.proposal import (
        SIG_APPROVED_HASH,
        SIG_EIP712,
        SIG_ETH_SIGN,
        load_proposal,
        save_proposal,
    )
    from payout.safe.review import CRITICAL, require_clean
    from payout.safe.signature import sign_proposal

    if eth_sign and on_chain:
        raise InputError("choose --eth-sign or --on-chain, not both")
    chain = Chain(rpc_url)
    proposal = load_proposal(proposal_file)
    result = _signer_review(chain, proposal, expected_token, expected_safe, payout_file, ledger_url)
    require_clean(result)
    warnings = [f.message for f in result.findings if f.severity != CRITICAL]
    for tx in result.transactions:
        if not nonces or tx.nonce in nonces:
            warnings += [f.message for f in tx.findings if f.severity != CRITICAL]
    signer = open_signer(keystore, account_alias)
    method = SIG_APPROVED_HASH if on_chain else SIG_ETH_SIGN if eth_sign else SIG_EIP712
    wallet = None
    if on_chain:
        from payout.wallet import Wallet

        wallet = Wallet(chain, signer)
    if not as_json:
        from rich.markup import escape

        c = console(stderr=True)
        t = result.token
        c.print(
            f'Token {t.address}: {escape(t.symbol)} "{escape(t.name)}", {t.decimals} decimals '
            f"(confirmed by {t.confirmed_by})"
        )
        for warning in warnings:
            c.print(f"[yellow]warning[/]: {escape(warning)}")
        for tx in result.transactions:
            if not nonces or tx.nonce in nonces:
                c.print(
                    f"nonce {tx.nonce}: domain 0x{tx.hashes.domain_hash.hex()} message "
                    f"0x{tx.hashes.message_hash.hex()} -> safeTxHash "
                    f"0x{tx.hashes.safe_tx_hash.hex()}"
                )
    signed, sigs = sign_proposal(
        chain,
        proposal,
        signer,
        method=method,
        owner_safe=owner_safe,
        nonces=list(nonces) or None,
        wallet=wallet,
    )
    target = out or proposal_file
    save_proposal(signed, target)
    posted: list[str] = []
    if post:
        service = _service(chain.chain_id, service_url, service_api_key)
        by_nonce = {tx.nonce: tx for tx in signed.transactions}
        selected = [tx.nonce for tx in sorted(signed.transactions, key=lambda t: t.nonce)]
        selected = [n for n in selected if not nonces or n in nonces]
        for nonce, sig in zip(selected, sigs, strict=True):
            posted.append(service.submit(signed, by_nonce[nonce], sig))
    data = {
        "file": str(target),
        "signer": signer.address,
        "as": owner_safe or signer.address,
        "method": "contract" if owner_safe else method,
        "signed": [tx.nonce for tx in signed.transactions if not nonces or tx.nonce in nonces],
        "service": posted,
        "warnings": warnings,
    }
    if as_json:
        emit_json(data)
        return
    console().print(
        f"Signed {len(sigs)} Safe transaction(s) as {data['as']} ({data['method']}); "
        f"wrote {target}."
    )
    for line in posted:
        console().print(f"Transaction Service: {line}")


# --- merge ---------------------------------------------------------------------------------------


@safe.command()
@click.argument("base", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("others", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the merged proposal here (default: overwrite BASE).",
)
@click.option("--from-service", is_flag=True, help="Also take confirmations from the service.")
@rpc_option
@_service_options
@json_option
def merge(
    base: Path,
    others: Sequence[Path],
    out: Path | None,
    from_service: bool,
    rpc_url: str,
    service_url: str | None,
    service_api_key: str | None,
    as_json: bool,
) -> None:
    """Combine the signatures of several copies of the same proposal (files from each signer)."""
    from payout.safe.proposal import load_proposal, save_proposal
    from payout.safe.signature import merge_proposals

    merged = merge_proposals(load_proposal(base), [(str(p), load_proposal(p)) for p in others])
    if from_service:
        merged = _service(merged.chain_id, service_url, service_api_key).pull_signatures(merged)
    target = out or base
    save_proposal(merged, target)
    counts = {tx.nonce: len(tx.signatures) for tx in merged.transactions}
    if as_json:
        emit_json({"file": str(target), "signatures": counts})
        return
    shown = ", ".join(f"nonce {n}: {k}" for n, k in counts.items())
    console().print(f"Wrote {target} (signatures per transaction: {shown}).")


# --- execute -------------------------------------------------------------------------------------


@safe.command()
@click.argument("proposal_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@rpc_option
@ledger_option
@signer_options
@_nonces_option
@send_options
@click.option("--from-service", is_flag=True, help="Merge the service's confirmations first.")
@_service_options
@json_option
def execute(
    proposal_file: Path,
    rpc_url: str,
    ledger_url: str | None,
    keystore: Path | None,
    account_alias: str | None,
    nonces: Sequence[int],
    confirmations: int,
    replace_after: float,
    fee_bump: int,
    max_fee_gwei: float | None,
    approval: str,
    from_service: bool,
    service_url: str | None,
    service_api_key: str | None,
    as_json: bool,
) -> None:
    """Execute the signed Safe transactions in nonce order and record them in the ledger.

    The executor (--keystore/--account) pays the gas; it need not be an owner (if it is, it counts
    as a signature). Already-paid batches are recorded, never sent again; running it again after
    a crash finishes the job.
    """
    from payout.chain import Chain
    from payout.ledger import Ledger
    from payout.safe.pipeline import execute_file
    from payout.wallet import Wallet

    del approval  # the proposal fixes the approvals; the option is shared with `payout send`
    chain = Chain(rpc_url)
    wallet = Wallet(
        chain,
        open_signer(keystore, account_alias),
        send_settings(confirmations, replace_after, fee_bump, max_fee_gwei),
    )
    service = None
    if from_service:
        from payout.safe.proposal import load_proposal

        service = _service(load_proposal(proposal_file).chain_id, service_url, service_api_key)
    c = console(stderr=True)

    def progress(result: Any) -> None:
        if not as_json:
            c.print(
                f"nonce {result.nonce}: {result.outcome} (batch {result.batch_index}, "
                f"tx {result.tx_hash}, gas {result.gas_used})"
            )

    with Ledger.open(ledger_url) as ledger:
        results = execute_file(
            chain,
            ledger,
            proposal_file,
            wallet,
            nonces=list(nonces) or None,
            service=service,
            on_progress=progress,
        )
    data = [
        {
            "nonce": r.nonce,
            "batchIndex": r.batch_index,
            "batchId": "0x" + r.batch_id.hex(),
            "outcome": r.outcome,
            "txHash": r.tx_hash,
            "blockNumber": r.block_number,
            "gasUsed": r.gas_used,
            "paid": sum(1 for row in r.receipt.rows if row.paid) if r.receipt else None,
            "skipped": sum(1 for row in r.receipt.rows if not row.paid) if r.receipt else None,
        }
        for r in results
    ]
    if as_json:
        emit_json({"executor": wallet.address, "results": data})
        return
    # "already paid": found executed on chain (an earlier run or another executor), not by this run.
    now = [d for d in data if d["outcome"] == "paid"]
    before = [d for d in data if d["outcome"] != "paid"]
    paid = sum(d["paid"] or 0 for d in now)  # type: ignore[misc]
    earlier = sum(d["paid"] or 0 for d in before)  # type: ignore[misc]
    console().print(
        f"Done: {len(now)} Safe transaction(s) executed now, {paid} payouts paid"
        + (f"; {len(before)} already executed before ({earlier} payouts)" if before else "")
        + ". See `payout report` for the per-row ledger."
    )


# --- local chains ---------------------------------------------------------------------------------

#: Chain ids of local development chains (anvil, hardhat, ganache): the only ones `devnet` touches.
LOCAL_CHAIN_IDS = (31337, 1337)


@safe.command()
@rpc_option
@click.option(
    "--owner",
    "owners",
    type=ADDRESS,
    multiple=True,
    required=True,
    help="Owner address (repeat; an owner may be another Safe).",
)
@click.option("--threshold", type=click.IntRange(min=1), required=True)
@click.option("--version", "version", type=click.Choice(["1.3.0", "1.4.1"]), default="1.4.1")
@json_option
def devnet(
    rpc_url: str, owners: Sequence[str], threshold: int, version: str, as_json: bool
) -> None:
    """Create a Safe on a LOCAL anvil chain, to try the flow (never on a real network).

    Deploys the real Safe contracts shipped with safe-eth-py at their canonical addresses (once),
    then a Safe with the given owners, paid for by anvil's first development account.
    """
    from payout.chain import Chain
    from payout.devnet import dev_private_key
    from payout.exceptions import ConfigError
    from payout.safe.devnet import create_safe, deploy_safe_contracts

    chain = Chain(rpc_url)
    if chain.chain_id not in LOCAL_CHAIN_IDS:
        raise ConfigError(
            f"chain {chain.chain_id} is not a local development chain",
            hint="Create Safes on real networks with the Safe{Wallet} app.",
        )
    contracts = deploy_safe_contracts(chain.w3, dev_private_key(0))
    address = create_safe(
        chain.w3,
        dev_private_key(0),
        contracts[version],
        list(owners),
        threshold,
        salt_nonce=chain.nonce(chain.w3.eth.account.from_key(dev_private_key(0)).address),
    )
    if as_json:
        emit_json(
            {
                "safe": address,
                "version": version,
                "owners": list(owners),
                "threshold": threshold,
                "multiSendCallOnly": contracts[version].multisend_call_only,
            }
        )
        return
    console().print(
        f"Safe {address} (v{version}, {threshold} of {len(owners)}) on chain {chain.chain_id}; "
        f"MultiSendCallOnly at {contracts[version].multisend_call_only}."
    )
