"""``payout keys``: create and inspect encrypted keystores (the only place a key is typed in)."""

from __future__ import annotations

from pathlib import Path

import click

from payout._cli.options import emit_json, json_option


@click.group()
def keys() -> None:
    """Encrypted keystores (eth-account JSON, version 3) for the hot wallet and Safe signers."""


def _password(confirm: bool) -> str:
    import os

    from payout.signer import PASSWORD_ENV

    env = os.environ.get(PASSWORD_ENV)
    if env is not None:
        return env
    return str(
        click.prompt("Keystore password", hide_input=True, confirmation_prompt=confirm, err=True)
    )


#: ``--keystore FILE`` of ``keys new`` and ``keys import`` (an existing file is never overwritten).
_keystore_to_write = click.option(
    "--keystore",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write.",
)


@keys.command("new")
@_keystore_to_write
@json_option
def keys_new(keystore: Path, as_json: bool) -> None:
    """Generate a new key and save it encrypted (password from PAYOUT_KEYSTORE_PASSWORD or a
    prompt)."""
    import secrets

    from payout.signer import write_keystore

    address = write_keystore(keystore, secrets.token_bytes(32), _password(confirm=True))
    _done(keystore, address, as_json)


@keys.command("import")
@_keystore_to_write
@json_option
def keys_import(keystore: Path, as_json: bool) -> None:
    """Encrypt an existing private key (typed at a hidden prompt or piped on stdin, never an
    argument)."""
    from payout.exceptions import SignerError
    from payout.signer import write_keystore

    text = str(click.prompt("Private key (hex)", hide_input=True, err=True)).strip()
    try:
        key = bytes.fromhex(text[2:] if text.startswith("0x") else text)
    except ValueError:
        raise SignerError(
            "the private key is not hex", hint="paste 64 hex digits (with or without 0x)"
        ) from None
    address = write_keystore(keystore, key, _password(confirm=True))
    _done(keystore, address, as_json)


@keys.command("address")
@click.argument("keystore", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--tron", "as_tron", is_flag=True, help="Print the key's TRON address (T...) instead."
)
@json_option
def keys_address(keystore: Path, as_tron: bool, as_json: bool) -> None:
    """Print a keystore's address (no password needed); --tron for its TRON address."""
    from payout.signer import keystore_address

    address = keystore_address(keystore)
    if as_tron:
        from payout.tron.signer import tron_address_of_evm

        address = tron_address_of_evm(address)
    if as_json:
        emit_json({"keystore": str(keystore), "address": address})
    else:
        click.echo(address)


def _done(path: Path, address: str, as_json: bool) -> None:
    if as_json:
        emit_json({"keystore": str(path), "address": address})
    else:
        click.echo(f"Wrote {path} for {address}. Keep the password safe: it cannot be recovered.")
