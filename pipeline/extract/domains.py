"""Fold hosts to registered domains with the bundled Public Suffix List (offline).

The algorithm of https://publicsuffix.org/list/ ("Algorithm"): the longest matching rule
wins, exception rules (``!``) beat wildcards (``*.``), and the default rule is ``*``.
"""

from __future__ import annotations

import os
from functools import cache, lru_cache

from ada_url import idna_to_ascii

from pipeline import bundled
from pipeline.errors import ConfigError

_PRIVATE_START = "// ===BEGIN PRIVATE DOMAINS==="


def _to_ascii(name: str) -> str:
    try:
        converted = idna_to_ascii(name)
        text = converted.decode("ascii") if isinstance(converted, bytes) else converted
        return text or name
    except (ValueError, UnicodeError):
        return name


class PublicSuffixList:
    """Rules of one Public Suffix List: ICANN section, plus the private one if asked."""

    def __init__(self, rules: set[str], exceptions: set[str]) -> None:
        self.rules = rules
        self.exceptions = exceptions
        self.fold = lru_cache(maxsize=262144)(self._fold)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, private: bool = False) -> PublicSuffixList:
        try:
            text = open(path, encoding="utf-8").read()
        except OSError as exc:
            raise ConfigError(f"cannot read the Public Suffix List {str(path)!r}: {exc}") from exc
        rules: set[str] = set()
        exceptions: set[str] = set()
        for line in text.splitlines():
            if line.startswith(_PRIVATE_START) and not private:
                break
            rule = line.strip().split(" ", 1)[0]
            if not rule or rule.startswith("//"):
                continue
            if rule.startswith("!"):
                exceptions.add(_to_ascii(rule[1:].lower()))
            else:
                prefix = "*." if rule.startswith("*.") else ""
                rules.add(prefix + _to_ascii(rule[len(prefix):].lower()))
        return cls(rules, exceptions)

    @classmethod
    @cache
    def bundled(cls, *, private: bool = False) -> PublicSuffixList:
        return cls.from_file(bundled.public_suffix_list(), private=private)

    def public_suffix(self, host: str) -> str:
        labels = host.split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate in self.exceptions:
                return ".".join(labels[i + 1 :])
            if candidate in self.rules:
                return candidate
            if i + 1 < len(labels) and "*." + ".".join(labels[i + 1 :]) in self.rules:
                return candidate
        return labels[-1]

    def registered_domain(self, host: str) -> str | None:
        """The registered domain, or None when the host is itself a public suffix."""
        host = _to_ascii(host.lower())
        if not host or host.startswith(".") or ".." in host:
            return None
        suffix = self.public_suffix(host)
        if host == suffix:
            return None
        rest = host[: -len(suffix) - 1]
        return rest.rsplit(".", 1)[-1] + "." + suffix

    def _fold(self, host: str) -> str:
        """DESIGN: the registered domain, or the host itself when it is a public suffix."""
        return self.registered_domain(host) or host
