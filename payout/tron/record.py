"""JSON forms of the TRON path's result records (frozen dataclasses): what ``--json`` prints and
the deployment registry stores. Field names are the keys (unless renamed), enums become their
values, tuples lists, and nested records are rendered by their own ``to_json``."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any


def plain(value: Any) -> Any:
    """``value`` with enums, tuples and nested records turned into JSON types."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    to_json = getattr(value, "to_json", None)
    return to_json() if callable(to_json) else value


def as_json(
    record: Any, *, only: Sequence[str] = (), rename: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The fields of a dataclass ``record`` (all, or ``only`` these in this order) as a dict."""
    names = only or [f.name for f in dataclasses.fields(record)]
    renamed = rename or {}
    return {renamed.get(name, name): plain(getattr(record, name)) for name in names}
