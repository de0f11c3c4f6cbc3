"""Every error the toolkit raises on purpose has a category and exit status the CLI reports
(`--json` names the category; scripts branch on the status), wherever it is raised from."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import payout
from payout import exceptions
from payout._cli.main import _category
from payout.exceptions import CATEGORIES, ChainError, ConfigError, PayoutError


def _every_error() -> list[type[PayoutError]]:
    root = Path(payout.__file__).parent
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if "migrations" in parts:
            continue
        importlib.import_module(".".join(p for p in parts if p != "__init__"))
    found: list[type[PayoutError]] = []
    todo: list[type[PayoutError]] = [PayoutError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return sorted(set(found), key=lambda c: (c.__module__, c.__name__))


ERRORS = _every_error()


def test_every_error_is_defined_in_payout_exceptions() -> None:
    elsewhere = [
        f"{c.__module__}.{c.__name__}" for c in ERRORS if c.__module__ != "payout.exceptions"
    ]
    assert elsewhere == []


@pytest.mark.parametrize("error", ERRORS, ids=lambda c: c.__name__)
def test_every_error_has_a_category_and_its_status(error: type[PayoutError]) -> None:
    instance = error.__new__(error)  # the class decides both; no message needed
    category = _category(instance)
    if error.__name__ == "SimulationFailed":
        # Wraps the failing batch's own error; reported as the root with the chain's status.
        assert (category, instance.exit_code) == ("PayoutError", ChainError.exit_code)
        return
    assert category in {c.__name__ for c in CATEGORIES}
    assert 2 <= instance.exit_code <= 10


@pytest.mark.parametrize(
    ("module", "name", "category", "status"),
    [
        ("payout.chain", "RpcUnavailable", "ChainError", 4),
        ("payout.chain", "RpcHttpError", "ChainError", 4),
        ("payout.chain", "RpcUrlInvalid", "ConfigError", ConfigError.exit_code),
        ("payout.chain", "RpcRejected", "ChainError", 4),
        ("payout.wallet", "NonceConsumed", "ChainError", 4),
        ("payout.signer", "WrongPassword", "SignerError", 7),
        ("payout.deployment", "DisburserMissing", "DeploymentError", 8),
        ("payout.pipeline", "Shortfall", "FundsError", 5),
        ("payout.safe.multisend", "MultiSendDecodeError", "SafeError", 9),
        ("payout.safe.devnet", "SafeDevnetError", "SafeError", 9),
        ("payout.safe.proposal", "NoMultiSendLibrary", "ChainError", 4),
        ("payout.safe.proposal", "BatchNotForSafe", "InputError", 2),
        ("payout.safe.pipeline", "SimulationRefused", "InputError", 2),
        ("payout.service.worker", "WorkerAlreadyRunning", "ConfigError", 3),
    ],
)
def test_moved_errors_are_still_importable_where_they_were(
    module: str, name: str, category: str, status: int
) -> None:
    moved = getattr(importlib.import_module(module), name)
    assert moved is getattr(exceptions, name)
    instance = moved.__new__(moved)
    assert (_category(instance), instance.exit_code) == (category, status)


def _safe_and_worker_errors() -> list[PayoutError]:
    from payout.disburser import RowFailure

    failure = RowFailure(0, "p-1", "0x" + "11" * 20, 1_000_000, "blacklisted", line=2, source="a")
    return [
        exceptions.MultiSendDecodeError("length overruns the data"),
        exceptions.SafeDevnetError("creating a Safe", "no code at the factory"),
        exceptions.NoMultiSendLibrary(56),
        exceptions.BatchNotForSafe(3, "its payer is another address"),
        exceptions.SimulationRefused([failure]),
        exceptions.WorkerAlreadyRunning("/var/payout/ledger.sqlite.worker.lock"),
    ]


@pytest.mark.parametrize("error", _safe_and_worker_errors(), ids=lambda e: type(e).__name__)
def test_safe_and_worker_errors_say_what_happened_and_what_to_do(error: PayoutError) -> None:
    assert type(error).__module__ == "payout.exceptions"
    assert str(error) and error.hint
