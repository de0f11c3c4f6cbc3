"""``payout serve`` (HTTP API + worker), ``payout service`` (API keys, worker only) and
``payout db upgrade`` (schema migrations)."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import click

from payout._cli.options import console, emit_json, json_option, ledger_option

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="PAYOUT_CONFIG",
    default="payout.toml",
    show_default=True,
    help="Service configuration (networks, tokens, payers, webhooks; env PAYOUT_CONFIG).",
)


def _service_config(config_path: Path, ledger_url: str | None) -> Any:
    from payout.service.network import load_config

    config = load_config(config_path)
    if ledger_url:
        config = dataclasses.replace(config, ledger_url=ledger_url)
    return config


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # One line per webhook HTTP request is noise (failures are logged by the deliverer) and costs
    # CPU the API and the worker need.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@click.command("serve")
@config_option
@ledger_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Serve the API only (workers run elsewhere).")
@click.option(
    "--devnet",
    "devnet_dir",
    type=click.Path(file_okay=False, path_type=Path),
    is_flag=False,
    flag_value=".payout/devnet",
    default=None,
    help="Start a local anvil and a local TRON node, each with a token (USDC / USDT), the "
    "disburser and a funded payer, write DIR/payout.toml for them (networks devnet and tron) and "
    "serve it (default DIR: .payout/devnet); prints an API key.",
)
@json_option
def serve(
    config_path: Path,
    ledger_url: str | None,
    host: str,
    port: int,
    no_worker: bool,
    devnet_dir: Path | None,
    as_json: bool,
) -> None:
    """Run the payout service: HTTP API (OpenAPI at /docs) and the worker that pays requests.

    The database is migrated at start (Alembic). SQLite: one process; PostgreSQL: run more
    `payout service worker` processes on other machines. --json: start-up errors as JSON.
    """
    if devnet_dir is None:
        _serve(config_path, ledger_url, host, port, no_worker)
        return
    from payout.service.devnet import devnet_config

    err = console(stderr=True)
    with devnet_config(devnet_dir.resolve(), on_step=lambda t: err.print(t)) as devnet_toml:
        store = _store(None, devnet_toml)
        _key, token = store.create_api_key("devnet", ["read", "write"])
        store.ledger.close()
        err.print(f"config {devnet_toml}; API key (read, write):")
        click.echo(token)
        _serve(devnet_toml, None, host, port, no_worker)


def _serve(
    config_path: Path, ledger_url: str | None, host: str, port: int, no_worker: bool
) -> None:
    import uvicorn

    from payout.service.app import create_app
    from payout.service.runtime import Service
    from payout.service.worker import Worker

    _logging()
    service = Service.open(_service_config(config_path, ledger_url))
    worker = None if no_worker else Worker(service)
    app = create_app(
        service,
        on_start=worker.start if worker else None,
        on_stop=worker.stop if worker else None,
    )
    click.echo(f"payout service on http://{host}:{port} (OpenAPI: /docs)", err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        service.close()


@click.group("service")
def service() -> None:
    """The payout service's API keys and standalone workers."""


@service.command("worker")
@config_option
@ledger_option
@json_option
def worker_cmd(config_path: Path, ledger_url: str | None, as_json: bool) -> None:
    """Run a worker only (PostgreSQL: several on several machines; payers are locked per
    worker with row locks). --json: start-up errors as JSON."""
    from payout.service.runtime import Service
    from payout.service.worker import Worker

    _logging()
    svc = Service.open(_service_config(config_path, ledger_url))
    worker = Worker(svc)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_a: done.set())
    worker.start()
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
        svc.close()


def _store(ledger_url: str | None, config_path: Path | None) -> Any:
    from payout.ledger import Ledger
    from payout.service import migrate
    from payout.service.store import Store

    if ledger_url is None and config_path is not None and config_path.exists():
        ledger_url = _service_config(config_path, None).ledger_url
    migrate.upgrade(ledger_url)
    return Store(Ledger.open(ledger_url))


@service.group("keys")
def keys() -> None:
    """API keys (only their hash is stored; the key is shown once)."""


_key_config = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="PAYOUT_CONFIG",
    default=None,
    help="Take the database URL from this payout.toml.",
)


@keys.command("create")
@click.option("--name", required=True, help="Who uses the key (shown in logs and errors).")
@click.option(
    "--scope",
    "scopes",
    type=click.Choice(["read", "write"]),
    multiple=True,
    default=("read",),
    show_default=True,
    help="Repeat for several (write: request and cancel payouts, replay webhooks).",
)
@click.option("--rate-limit", type=click.IntRange(min=1), default=None, help="Requests/second.")
@ledger_option
@_key_config
@json_option
def keys_create(
    name: str,
    scopes: tuple[str, ...],
    rate_limit: int | None,
    ledger_url: str | None,
    config_path: Path | None,
    as_json: bool,
) -> None:
    """Create an API key and print it once."""
    store = _store(ledger_url, config_path)
    key, token = store.create_api_key(name, scopes, rate_limit)
    store.ledger.close()
    if as_json:
        emit_json({"id": key.id, "name": name, "scopes": sorted(key.scopes), "key": token})
        return
    console().print(f"API key {key.id} ({name}, scopes {' '.join(sorted(key.scopes))}):")
    click.echo(token)
    console(stderr=True).print("Store it now: only its hash is kept.")


@keys.command("list")
@ledger_option
@_key_config
@json_option
def keys_list(ledger_url: str | None, config_path: Path | None, as_json: bool) -> None:
    """List API keys (never their secrets)."""
    store = _store(ledger_url, config_path)
    found = store.api_keys()
    store.ledger.close()
    rows = [
        {
            "id": k.id,
            "name": k.name,
            "scopes": sorted(k.scopes),
            "rate_limit": k.rate_limit,
            "created_at": k.created_at.isoformat(),
            "revoked": k.revoked_at is not None,
        }
        for k in found
    ]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        state = "revoked" if r["revoked"] else "active"
        console().print(f"{r['id']}  {r['name']}  {' '.join(r['scopes'])}  {state}")


@keys.command("revoke")
@click.argument("key_id")
@ledger_option
@_key_config
@json_option
def keys_revoke(
    key_id: str, ledger_url: str | None, config_path: Path | None, as_json: bool
) -> None:
    """Revoke an API key (refused within seconds by every API process)."""
    from payout.exceptions import InputError

    store = _store(ledger_url, config_path)
    done = store.revoke_api_key(key_id)
    store.ledger.close()
    if not done:
        raise InputError(f"no active API key {key_id}", hint="`payout service keys list`")
    if as_json:
        emit_json({"revoked": key_id})
        return
    console().print(f"revoked {key_id}")


@click.group("db")
def db() -> None:
    """The ledger database's schema."""


@db.command("upgrade")
@ledger_option
@json_option
def db_upgrade(ledger_url: str | None, as_json: bool) -> None:
    """Migrate the ledger database to this version's schema (keeps every row)."""
    from payout.service import migrate

    result = migrate.upgrade(ledger_url)
    if as_json:
        emit_json(dataclasses.asdict(result))
        return
    how = " (existing ledger stamped at the baseline)" if result.stamped_existing else ""
    console().print(f"schema {result.before or 'none'} -> {result.after}{how}")
