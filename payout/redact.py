"""Masking of secrets in URLs: ledger passwords, RPC credentials and API keys.

Every URL that can reach output (errors, hints, notes, ``--json``, files we write) goes through
:func:`redact_url`; text written by other libraries that may quote an endpoint goes through
:func:`redact_text`. No imports from the rest of the toolkit, so exceptions can use it.
"""

from __future__ import annotations

import re

#: Schemes of node and service endpoints (RPC, TRON node, Safe Transaction Service), whose paths
#: and query strings commonly carry API keys (``/v3/<key>``, ``/v2/<key>``, ``?apikey=...``).
_ENDPOINT_SCHEMES = ("http", "https", "ws", "wss")
#: Query parameters that are secrets whatever the scheme (a PostgreSQL URL's ``?password=``).
_SECRET_PARAM = re.compile(r"pass|secret|key|token|auth|sig|cred", re.IGNORECASE)
_KEYLIKE_SEGMENT = re.compile(r"[A-Za-z0-9_\-.~=+]{16,}")
MASK = "***"


def _keylike(segment: str) -> bool:
    """A path segment that looks like an API key or token rather than a route name: long, from a
    key alphabet, with a digit (or very long). ``ethereum-mainnet`` stays, ``/v3/9aa3d9...`` not."""
    if not _KEYLIKE_SEGMENT.fullmatch(segment):
        return False
    return any(c.isdigit() for c in segment) or len(segment) >= 24


def _secret_param(name: str, endpoint: bool) -> bool:
    """Every query value of a node endpoint is masked (keys hide under many names); elsewhere
    only the secret-named ones."""
    return endpoint or bool(_SECRET_PARAM.search(name))


def _split(url: str) -> tuple[str, str, str, str, str] | None:
    """(scheme, userinfo, host, path, query-and-fragment) of a URL, or None without ``://``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    authority_end = len(rest)
    for stop in "/?#":
        index = rest.find(stop)
        if index != -1:
            authority_end = min(authority_end, index)
    authority, tail = rest[:authority_end], rest[authority_end:]
    userinfo, _, host = authority.rpartition("@")
    path, qmark, query = tail.partition("?")
    return scheme, userinfo, host, path, qmark + query


def redact_url(url: str) -> str:
    """The URL with its secrets replaced by ``***`` (safe for messages, notes and logs).

    Ledger URLs keep their user name (``postgresql://payout:***@db/ledger``); node and service
    endpoints (http, https, ws, wss) also lose API keys in path segments and query values
    (``https://mainnet.infura.io/v3/***``, ``https://node?apikey=***``) and a lone user name.
    """
    parts = _split(url)
    if parts is None:
        return url
    scheme, userinfo, host, path, query = parts
    endpoint = scheme.lower() in _ENDPOINT_SCHEMES
    if userinfo:
        user, colon, _password = userinfo.partition(":")
        if colon:
            userinfo = f"{user}:{MASK}"
        elif endpoint:
            userinfo = MASK  # ``https://<key>@host``: the user name is the credential
        host = f"{userinfo}@{host}"
    if endpoint:
        path = "/".join(MASK if _keylike(seg) else seg for seg in path.split("/"))
    if query:
        pairs = []
        for pair in query[1:].partition("#")[0].split("&"):  # a fragment is never sent: dropped
            name, eq, value = pair.partition("=")
            if eq and value and _secret_param(name, endpoint):
                value = MASK
            pairs.append(f"{name}{eq}{value}")
        query = "?" + "&".join(pairs)
    return f"{scheme}://{host}{path}{query}"


def url_secrets(url: str) -> list[str]:
    """The secret pieces of ``url`` that :func:`redact_url` masks, longest first."""
    parts = _split(url)
    if parts is None:
        return []
    shown = redact_url(url)
    found: list[str] = []
    scheme, userinfo, _host, path, query = parts
    if userinfo and MASK in shown.partition("@")[0]:
        user, colon, password = userinfo.partition(":")
        found.append(password if colon else user)
    if scheme.lower() in _ENDPOINT_SCHEMES:
        found += [seg for seg in path.split("/") if _keylike(seg)]
    for pair in query[1:].partition("#")[0].split("&"):
        name, _eq, value = pair.partition("=")
        if value and _secret_param(name, scheme.lower() in _ENDPOINT_SCHEMES):
            found.append(value)
    return sorted({f for f in found if f}, key=len, reverse=True)


#: Secrets shorter than this are masked only as part of the whole URL in free text: replacing a
#: short value everywhere (``x=1``) would garble numbers in the message.
_MIN_FREE_SECRET = 6


def redact_text(text: str, *urls: str | None) -> str:
    """``text`` with the secrets of each of ``urls`` masked: for messages built by other libraries
    (requests, tronpy) that may quote the endpoint, whole or in pieces."""
    for url in urls:
        if not url:
            continue
        text = text.replace(url, redact_url(url))
        for secret in url_secrets(url):
            if len(secret) >= _MIN_FREE_SECRET:
                text = text.replace(secret, MASK)
    return text
