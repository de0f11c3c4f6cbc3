"""The ``payout`` command: command groups are registered here."""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from typing import Any

import click

from payout import __version__
from payout.exceptions import CATEGORIES, PayoutError

#: Exit status of an unexpected (non-PayoutError) exception: a bug, reported as such.
INTERNAL_ERROR_EXIT = 70


#: Options and environment variables that hold endpoint or database URLs (maybe with secrets).
_URL_PARAMS = ("rpc_url", "tron_node_url", "node_url", "ledger_url", "service_url", "node")
_URL_ENV = (
    "PAYOUT_RPC_URL",
    "PAYOUT_TRON_NODE_URL",
    "PAYOUT_LEDGER_URL",
    "PAYOUT_SAFE_SERVICE_URL",
)


def _secret_urls(ctx: click.Context) -> list[str]:
    """Every URL this invocation was given: an error message from any library is scrubbed of
    their credentials and API keys before it is shown."""
    urls = [os.environ.get(name) for name in _URL_ENV]
    current: click.Context | None = ctx
    while current is not None:
        urls += [current.params.get(name) for name in _URL_PARAMS]
        current = current.parent
    # The failing command's own options are gone with its context: take URLs from argv.
    urls += [arg.partition("=")[2] or arg for arg in sys.argv[1:] if "://" in arg]
    return [u for u in urls if isinstance(u, str) and u]


def _scrub(text: str | None, urls: list[str]) -> str | None:
    from payout.redact import redact_text

    return None if text is None else redact_text(text, *urls)


def _error_json(exc: BaseException, kind: str, urls: list[str] | None = None) -> str:
    urls = urls or []
    return json.dumps(
        {
            "error": {
                "type": type(exc).__name__,
                "category": kind,
                "message": _scrub(str(exc), urls),
                "hint": _scrub(getattr(exc, "hint", None), urls),
                "exit_code": getattr(exc, "exit_code", INTERNAL_ERROR_EXIT),
            }
        },
        indent=2,
    )


def _category(exc: PayoutError) -> str:
    for cls in type(exc).__mro__:
        if cls in CATEGORIES:
            return cls.__name__
    return "PayoutError"


class PayoutGroup(click.Group):
    """Turns :class:`PayoutError` into a clean message and exit code (``--debug`` shows more).

    With ``--json`` the error is also printed on stdout as ``{"error": {...}}``.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PayoutError as exc:
            obj = ctx.obj or {}
            urls = _secret_urls(ctx) + list(obj.get("urls", ()))
            if obj.get("debug"):
                traceback.print_exc()
            if obj.get("json"):
                click.echo(_error_json(exc, _category(exc), urls))
            click.secho(f"Error: {_scrub(str(exc), urls)}", fg="red", err=True)
            if exc.hint:
                click.echo(f"Hint: {_scrub(exc.hint, urls)}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            # `payout report | head`: the reader left; not an error worth a message.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(141)
        except KeyboardInterrupt:
            click.secho(
                "Interrupted. `payout resume` continues safely (the ledger and the chain "
                "say what was paid).",
                fg="yellow",
                err=True,
            )
            ctx.exit(130)
        except Exception as exc:
            obj = ctx.obj or {}
            urls = _secret_urls(ctx) + list(obj.get("urls", ()))
            if obj.get("debug"):
                traceback.print_exc()
            if obj.get("json"):
                click.echo(_error_json(exc, "InternalError", urls))
            shown = _scrub(str(exc), urls)
            click.secho(f"Internal error: {type(exc).__name__}: {shown}", fg="red", err=True)
            click.echo(
                "Hint: this is a bug; re-run with --debug and report the traceback", err=True
            )
            ctx.exit(INTERNAL_ERROR_EXIT)


@click.group(cls=PayoutGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="payout")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Non-custodial stablecoin mass payouts (ERC-20, Safe multisig, TRC-20).

    Workflow: validate -> plan -> send (or safe propose/sign/execute) -> status/report ->
    reconcile. `payout demo` runs it all on a local chain.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


#: (module under payout._cli, attribute) of every command or group; imported at start-up.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("validate", "validate"),
    ("plan", "plan"),
    ("send", "send"),
    ("send", "resume"),
    ("status", "status"),
    ("status", "report"),
    ("reconcile", "reconcile"),
    ("recover", "recover"),
    ("deploy", "deploy"),
    ("keys", "keys"),
    ("devnet", "devnet"),
    ("demo", "demo"),
    ("safe", "safe"),
    ("tron", "tron"),
    ("serve", "serve"),
    ("serve", "service"),
    ("serve", "db"),
)


def _register() -> None:
    for module_name, attr in COMMANDS:
        try:
            module = importlib.import_module(f"payout._cli.{module_name}")
        except ModuleNotFoundError as exc:
            # A command group that is not part of this build yet; everything else still works.
            if exc.name == f"payout._cli.{module_name}":
                continue
            raise
        command = getattr(module, attr, None)
        if isinstance(command, click.Command):
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="payout")


if __name__ == "__main__":  # pragma: no cover
    main()
