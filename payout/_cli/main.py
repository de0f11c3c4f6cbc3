"""The ``payout`` command: command groups are registered here."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

from payout import __version__
from payout.exceptions import PayoutError


class PayoutGroup(click.Group):
    """Turns :class:`PayoutError` into a clean message and exit code (``--debug`` shows more)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PayoutError as exc:
            debug = bool(ctx.obj and ctx.obj.get("debug"))
            if debug:
                traceback.print_exc()
            click.secho(f"Error: {exc}", fg="red", err=True)
            if exc.hint:
                click.echo(f"Hint: {exc.hint}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=PayoutGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="payout")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Non-custodial stablecoin mass payouts (ERC-20, Safe multisig, TRC-20)."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main() -> None:
    cli(prog_name="payout")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
