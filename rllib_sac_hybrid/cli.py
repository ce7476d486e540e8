"""Parsing shared by the command lines (``record``, ``pretrain``, ``demo``, ``benchmarks/``).

Both parsers fail with a ``ValueError`` naming the flag and what it allows, so a typo in a long
command line is caught before anything is built.
"""

from __future__ import annotations

import ast
import json
from typing import Any


def json_object(flag: str, text: str) -> dict[str, Any]:
    """``text`` as a JSON object, e.g. ``--env-config '{"image_size": 32}'``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{flag}={text!r} is not JSON ({error}); allowed: a JSON object.") from error
    if not isinstance(value, dict):
        raise ValueError(f"{flag}={text!r} is a JSON {type(value).__name__}; allowed: a JSON object.")
    return value


def key_values(flag: str, pairs: list[str], example: str = "n_step=3") -> dict[str, Any]:
    """``key=value`` pairs as a dict; values are Python literals, or else plain strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} {pair!r} is invalid; allowed: key=value, e.g. {example}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value  # a plain string, e.g. activation=relu
    return out
