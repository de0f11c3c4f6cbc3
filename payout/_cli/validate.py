"""``payout validate FILE``: every problem of a payout file at once, with file, line and column."""

from __future__ import annotations

from pathlib import Path

import click

from payout._cli.options import (
    console,
    disburser_option,
    emit_json,
    json_option,
    rpc_option,
    token_option,
    units,
)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@rpc_option
@token_option(required=False)
@disburser_option
@click.option(
    "--show",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Issues printed (all are counted; --json lists every one kept).",
)
@json_option
def validate(
    file: Path, rpc_url: str, token: str | None, disburser: str | None, show: int, as_json: bool
) -> None:
    """Check a payout file (CSV, Safe CSV Airdrop, JSON, JSON Lines) against the chain's token.

    Decimals and symbol come from the chain: an amount with more decimals than the token has is
    refused, never rounded. Exit status 2 when the file has errors.
    """
    from payout import pipeline
    from payout.chain import Chain
    from payout.deployment import disburser_address

    chain = Chain(rpc_url)
    manifest = pipeline.validate(file, chain, token, disburser=disburser or disburser_address())
    if as_json:
        from payout._cli.render import manifest_json

        emit_json({"chain_id": chain.chain_id, **manifest_json(manifest)})
    else:
        out = console()
        for issue in manifest.issues[:show]:
            color = "red" if issue.severity.value == "error" else "yellow"
            out.print(f"[{color}]{issue}[/]")
        hidden = len(manifest.issues) - min(show, len(manifest.issues))
        if hidden > 0:
            out.print(f"... and {hidden} more (use --json or --show)")
        for (_net, tok), (count, total) in manifest.totals().items():
            info = manifest.tokens.get(tok or "") or (chain.token(tok) if tok else None)
            if info is None and token:
                info = chain.token(token)
            if info is not None:
                out.print(
                    f"{count} valid payouts, {units(total, info.decimals)} {info.symbol} "
                    f"({info.decimals} decimals, token {tok or token})"
                )
        verdict = "[green]OK[/]" if manifest.ok else "[red]NOT OK[/]"
        out.print(
            f"{verdict} {manifest.path}: {manifest.rows} rows, {manifest.error_count} error(s), "
            f"{manifest.warning_count} warning(s)"
        )
    if not manifest.ok:
        raise click.exceptions.Exit(2)
