"""Django side of the memcached interop test (run by MemcachedInteropTests.swift).

Configures real Django with PyMemcacheCache and PyLibMCCache on the server given,
reads what Swift wrote, writes values of its own, and prints a JSON report.

usage: django_memcached_interop.py SERVER KEY_PREFIX VERSION
"""
import json
import sys

import django
from django.conf import settings


def main():
    server, prefix, version = sys.argv[1], sys.argv[2], int(sys.argv[3])
    common = {"LOCATION": server, "KEY_PREFIX": prefix, "VERSION": version, "TIMEOUT": 300}
    settings.configure(
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "pymemcache": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", **common},
            "pylibmc": {"BACKEND": "django.core.cache.backends.memcached.PyLibMCCache", **common},
        }
    )
    django.setup()
    from django.core.cache import caches

    def describe(value):
        if isinstance(value, bytes):
            return ["bytes", value.hex()]
        return [type(value).__name__, value]

    report = {"read": {}, "made_key": {}, "incr": {}}
    for alias in ("pymemcache", "pylibmc"):
        cache = caches[alias]
        report["made_key"][alias] = cache.make_key("some:key")
        report["read"][alias] = {
            key: describe(cache.get(key, "MISSING"))
            for key in ("swift_int", "swift_negative", "swift_big", "swift_str", "swift_bytes", "swift_empty")
        }
        report["incr"][alias] = cache.incr("swift_counter_" + alias, 5)
        cache.set(alias + "_int", 1234)
        cache.set(alias + "_str", "Grüße, ☃")
        cache.set(alias + "_bytes", b"\x00\x10\xfe\xff")
        cache.set(alias + "_counter", 7)
        cache.close()
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
