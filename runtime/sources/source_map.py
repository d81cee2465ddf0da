"""Which log types each source may carry: ``{service: {resource: [log type, ...]}}``, like StreamAlert's data_sources.

A source is ``service:resource`` (``kinesis:<stream>``, ``sqs:<queue>``, ``sns:<topic>``, ``s3:<bucket>``,
``cloudwatch:<log group>``, ``eventbridge:<event source>``, ``firehose:<delivery stream>``). Resources may be glob patterns; an exact
resource wins over a pattern. A log type entry names a log type, a prefix before ``:``
(``cloudtrail`` allows ``cloudtrail:events``) or a glob. A source the map does not name may carry
every log type, so an empty map (the default) allows everything everywhere.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourceMap:
    """The allowed log types per ``(service, resource pattern)``."""

    services: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Any) -> SourceMap:
        """Validate ``{service: {resource: [log types]}}``; raise ValueError naming what is wrong."""
        if config is None:
            return cls()
        if not isinstance(config, Mapping):
            raise ValueError("the source map must be an object {service: {resource: [log types]}}")
        services: dict[str, dict[str, tuple[str, ...]]] = {}
        for service, resources in config.items():
            if not isinstance(resources, Mapping):
                raise ValueError(f"source map: {service!r} must map resources to lists of log types")
            for resource, log_types in resources.items():
                if not isinstance(log_types, list) or not all(isinstance(t, str) for t in log_types):
                    raise ValueError(f"source map: {service}:{resource} must be a list of log type names")
                services.setdefault(str(service), {})[str(resource)] = tuple(log_types)
        return cls(services)

    @classmethod
    def from_json(cls, text: str) -> SourceMap:
        """Parse the JSON text of a source map (``SIGIL_SOURCES`` or ``sources.json``)."""
        try:
            return cls.from_config(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ValueError(f"the source map is not valid JSON: {exc}") from None

    def patterns(self, source: str) -> tuple[str, ...] | None:
        """Return the log type entries for ``source``, or None when the map does not name it."""
        service, _, resource = source.partition(":")
        resources = self.services.get(service)
        if not resources:
            return None
        if resource in resources:
            return resources[resource]
        for pattern, entries in resources.items():
            if fnmatch.fnmatchcase(resource, pattern):
                return entries
        return None

    def allowed(self, source: str, log_types: Collection[str]) -> frozenset[str] | None:
        """Return the names among ``log_types`` that ``source`` may carry, or None for all of them."""
        entries = self.patterns(source)
        if entries is None:
            return None
        return frozenset(name for name in log_types if any(_admits(entry, name) for entry in entries))


def _admits(entry: str, name: str) -> bool:
    """Does a source map entry admit the log type ``name``?"""
    return entry == name or name.startswith(entry + ":") or fnmatch.fnmatchcase(name, entry)
