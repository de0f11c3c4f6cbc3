"""Who may look and who may act: API keys, roles and the signed session cookie.

Keys are never stored: the key file holds SHA-256 digests (API keys are random 32-byte tokens, so
a fast digest is enough; a password hash would only slow every request). One function,
:meth:`KeyStore.authenticate`, turns a presented key into a :class:`Principal`; the service's own
key store can replace it without touching the pages.

The session is a cookie the server signs (HMAC-SHA256 with a secret only the server knows): it
names the principal and role, carries the CSRF token of the session's forms and expires.
It is HttpOnly and SameSite=Strict; every POST must also carry the CSRF token in its form.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from payout.exceptions import ConfigError

SESSION_COOKIE = "payout_session"
#: A session lasts a working day; the operator logs in again after that.
SESSION_SECONDS = 12 * 3600


class Role(enum.StrEnum):
    """``operator`` may act (retry rows); ``finance`` reads everything and changes nothing."""

    OPERATOR = "operator"
    FINANCE = "finance"


@dataclass(frozen=True)
class Principal:
    """Someone holding a valid key (or session)."""

    name: str
    role: Role

    @property
    def can_act(self) -> bool:
        return self.role is Role.OPERATOR


def hash_key(key: str) -> str:
    """The digest stored in the key file for ``key``."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random API key (hand it to the user once; store only :func:`hash_key`)."""
    return "pk_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class KeyEntry:
    name: str
    role: Role
    sha256: str


class KeyStore:
    """API keys by digest. Load with :meth:`from_file` (JSON: a list of
    ``{"name": ..., "role": "operator"|"finance", "sha256": ...}``)."""

    def __init__(self, entries: Iterable[KeyEntry]) -> None:
        self._by_digest = {e.sha256.lower(): e for e in entries}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> KeyStore:
        where = str(path)
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the dashboard key file {where}: {exc}",
                hint='Write a JSON list of {"name", "role", "sha256"} entries.',
            ) from exc
        if not isinstance(raw, list):
            raise ConfigError(f"{where}: expected a JSON list of key entries")
        entries = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ConfigError(f"{where}: entry {i} is not an object")
            try:
                role = Role(str(item.get("role")))
            except ValueError:
                raise ConfigError(
                    f"{where}: entry {i} has role {item.get('role')!r}",
                    hint="Use 'operator' or 'finance'.",
                ) from None
            digest = str(item.get("sha256", "")).lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(f"{where}: entry {i} needs a 64-hex-digit sha256 of its key")
            entries.append(KeyEntry(str(item.get("name") or f"key-{i}"), role, digest))
        return cls(entries)

    def authenticate(self, key: str) -> Principal | None:
        """The principal holding ``key``, or None."""
        if not key:
            return None
        digest = hash_key(key.strip())
        # Compare against every entry in constant time: no early exit that times the lookup.
        found: KeyEntry | None = None
        for stored, entry in self._by_digest.items():
            if hmac.compare_digest(stored, digest):
                found = entry
        return Principal(found.name, found.role) if found else None


class KeyChecker(Protocol):
    """What the dashboard needs from a key store: the one function to swap for another store."""

    def authenticate(self, key: str) -> Principal | None:
        """The principal holding ``key``, or None."""
        ...


class ServiceKeys:
    """The payout service's API keys (``payout service keys create``) as dashboard logins: a key
    with the ``write`` scope is an operator, a read-only key is finance.

    ``store`` is the service's store (anything with ``authenticate(token)`` returning an object
    with ``name`` and ``scopes``, or None)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def authenticate(self, key: str) -> Principal | None:
        found = self.store.authenticate(key.strip()) if key else None
        if found is None:
            return None
        role = Role.OPERATOR if "write" in found.scopes else Role.FINANCE
        return Principal(str(found.name), role)


def key_file_entry(name: str, role: Role, key: str) -> dict[str, str]:
    """One entry of the key file for ``key`` (tests and setup scripts)."""
    return {"name": name, "role": role.value, "sha256": hash_key(key)}


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Signs and checks session cookies with a server secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ConfigError("the dashboard session secret must be at least 16 bytes")
        self._secret = secret

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def issue(self, principal: Principal, *, now: float | None = None) -> tuple[str, Session]:
        """A new session for ``principal``: (cookie value, session)."""
        expires = int((now if now is not None else time.time()) + SESSION_SECONDS)
        session = Session(principal, secrets.token_urlsafe(24), expires)
        body: dict[str, Any] = {
            "n": principal.name,
            "r": principal.role.value,
            "c": session.csrf,
            "e": expires,
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload)}", session

    def check(self, cookie: str | None, *, now: float | None = None) -> Session | None:
        """The session a cookie carries, or None (missing, forged, malformed or expired)."""
        if not cookie or "." not in cookie:
            return None
        payload, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            body: Mapping[str, Any] = json.loads(_unb64(payload))
            principal = Principal(str(body["n"]), Role(str(body["r"])))
            session = Session(principal, str(body["c"]), int(body["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires < (now if now is not None else time.time()):
            return None
        return session


def csrf_ok(session: Session, presented: str | None) -> bool:
    """Whether a form's CSRF token is the session's."""
    return bool(presented) and hmac.compare_digest(session.csrf, presented or "")
