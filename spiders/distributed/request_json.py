"""How a request travels through the shared Redis queue: JSON, data only.

scrapy-redis pickles requests by default, and unpickling runs whatever code the bytes
name: anyone able to write to Redis would run code on every worker. This module is the
``SCHEDULER_SERIALIZER`` instead (``dumps``/``loads`` of the dict of
``Request.to_dict``). JSON carries str, numbers, bools, None, lists and str-keyed dicts
as they are; the few other values a mediawatch request holds are tagged objects:
``bytes`` (body, headers), ``datetime``, ``tuple``, a dict with non-str keys (headers),
and the dataclasses the spider puts in ``meta``/``cb_kwargs`` (``SourceJob``,
``FeedEntry``, ``SitemapEntry``), by name, from a fixed list. Anything else is refused
on the way in (``TypeError``) and on the way out (``ValueError``), and a request may
only be a plain ``scrapy.Request``: nothing read from Redis names code to load.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import datetime
from typing import Any

from spiders.crawler.jobs import SourceJob
from spiders.parsing.feeds import FeedEntry
from spiders.parsing.sitemaps import SitemapEntry

TAG = "__mw__"
DATACLASSES: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (SourceJob, FeedEntry, SitemapEntry)
}
PLAIN_REQUEST_CLASSES = frozenset({"scrapy.http.request.Request", "scrapy.Request"})


def dumps(request: dict[str, Any]) -> bytes:
    """``Request.to_dict()`` as JSON; ``TypeError`` for a value not in the list above."""
    if request.get("_class", "scrapy.Request") not in PLAIN_REQUEST_CLASSES:
        raise TypeError(f"only plain scrapy.Request objects travel, not {request['_class']}")
    return json.dumps(_encode(request), ensure_ascii=False, allow_nan=False).encode("utf-8")


def loads(data: bytes | str) -> dict[str, Any]:
    """The dict ``dumps`` wrote; ``ValueError`` for anything else (pickles included)."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a JSON request ({exc.__class__.__name__})") from None
    decoded = _decode(raw)
    if not isinstance(decoded, dict) or not isinstance(decoded.get("url"), str):
        raise ValueError("not a request: no url")
    if "_class" in decoded:
        raise ValueError(f"a request class is named ({decoded['_class']!r}); refused")
    for name in ("callback", "errback"):
        value = decoded.get(name)
        if value is not None and not (isinstance(value, str) and value.isidentifier()):
            raise ValueError(f"{name} is not a method name: {value!r}")
    return decoded


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return {TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, tuple):
        return {TAG: "tuple", "v": [_encode(item) for item in value]}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and TAG not in value:
            return {key: _encode(item) for key, item in value.items()}
        return {TAG: "map", "v": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and DATACLASSES.get(type(value).__name__) is type(value):
        fields = {field.name: _encode(getattr(value, field.name)) for field in _fields(value)}
        return {TAG: "dataclass", "name": type(value).__name__, "v": fields}
    raise TypeError(f"a {type(value).__name__} cannot travel through the Redis queue")


def _fields(value: Any) -> tuple[dataclasses.Field[Any], ...]:
    return tuple(field for field in dataclasses.fields(value) if field.init)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None:
        return {key: _decode(item) for key, item in value.items()}
    payload = value.get("v")
    if tag == "bytes" and isinstance(payload, str):
        return base64.b64decode(payload, validate=True)
    if tag == "datetime" and isinstance(payload, str):
        return datetime.fromisoformat(payload)
    if tag == "tuple" and isinstance(payload, list):
        return tuple(_decode(item) for item in payload)
    if tag == "map" and isinstance(payload, list):
        return {_hashable(_decode(k)): _decode(v) for k, v in (_pair(item) for item in payload)}
    if tag == "dataclass" and isinstance(payload, dict):
        cls = DATACLASSES.get(str(value.get("name")))
        if cls is None:
            raise ValueError(f"unknown type {value.get('name')!r}")
        try:
            return cls(**{key: _decode(item) for key, item in payload.items()})
        except TypeError as exc:
            raise ValueError(f"bad {cls.__name__}: {exc}") from None
    raise ValueError(f"unknown tagged value {tag!r}")


def _pair(item: Any) -> tuple[Any, Any]:
    if not isinstance(item, list) or len(item) != 2:
        raise ValueError("a map entry is not a pair")
    return item[0], item[1]


def _hashable(key: Any) -> Any:
    if isinstance(key, list | dict):
        raise ValueError("a map key is not a scalar")
    return key
