"""Django side of the pickle interop tests (RedisPickleInteropTests.swift, MemcachedPickleInteropTests.swift).

Configures real Django with the cache backend given (RedisCache over redis-py, or
PyMemcacheCache / PyLibMCCache) on the server the Swift test started, then:

  exchange  checks every value Swift wrote under "swift_<name>" against VALUES (same Python
            type, same value, all the way down), increments "swift_counter" by 5, writes every
            value of VALUES under "django_<name>", "django_counter" = 7, and the unsupported
            values of FOREIGN under "foreign_<name>"; reports what it gets for "swift_struct".
  after     reads "django_counter" (Swift incremented it) and "swift_counter".

Prints a JSON report: {"mismatches": [...], "incr": n, ...}.

usage: django_pickle_interop.py BACKEND LOCATION KEY_PREFIX MODE [NAME,NAME,...]
(the names limit both directions to those entries of VALUES; all of them by default)
"""
import datetime
import json
import sys

import django
from django.conf import settings


class Point:
    """A class of this script: Django pickles it with a reference to the class."""

    def __init__(self, x, y):
        self.x, self.y = x, y


# The values both sides hold under the same names; RedisPickleInteropTests.swift has the twin table.
VALUES = {
    "int_zero": 0,
    "int_negative": -17,
    "int_max": 2**63 - 1,
    "int_min": -(2**63),
    "str": "h\u00e9llo w\u00f6rld \u2603 \U0001d11e",
    "str_empty": "",
    "str_digits": "12",
    "str_large": "x" * 100000 + "\u00e9",
    "bytes": b"\x00\x01\x7f\x80\xff",
    "bytes_empty": b"",
    "bytes_large": bytes(range(256)) * 400,
    "true": True,
    "false": False,
    "float": 1.5,
    "float_negative": -0.25,
    "float_big": 1e300,
    "none": None,
    "list_int": [1, 2, 3],
    "list_str": ["a", "\u00e9", ""],
    "list_empty": [],
    "list_large": list(range(5000)),
    "list_optional": [None, 1],
    "list_float": [0.5, -1.0],
    "list_bytes": [b"a", b""],
    "dict": {"a": 1, "b": 2},
    "dict_empty": {},
    "dict_int_keys": {1: "x", 2: "y"},
    "dict_nested": {"inner": {"deep": [1, 2]}, "other": {}},
    "list_of_dicts": [{"a": "x"}, {}],
}

# Written by Django only: Swift reads it as a struct.
DJANGO_ONLY = {
    "profile": {"name": "Ada", "age": 36, "scores": [1.5, 2.0], "nickname": None},
}

FOREIGN = {
    "datetime": datetime.datetime(2026, 12, 1, 12, 0, 0),
    "object": Point(1, 2),
    "set": {1, 2},
    "int_huge": 2**70,
    "tuple_of_objects": (Point(0, 0),),
}


def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(k in b and same(a[k], b[k]) for k in a) and all(
            same(k, next(j for j in b if j == k)) for k in a
        )
    return a == b


def describe(value):
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."


def main():
    backend, location, prefix, mode = sys.argv[1:5]
    names = sys.argv[5].split(",") if len(sys.argv) > 5 else list(VALUES)
    values = {name: VALUES[name] for name in names}
    classes = {
        "redis": "django.core.cache.backends.redis.RedisCache",
        "pymemcache": "django.core.cache.backends.memcached.PyMemcacheCache",
        "pylibmc": "django.core.cache.backends.memcached.PyLibMCCache",
    }
    settings.configure(
        CACHES={
            "default": {
                "BACKEND": classes[backend],
                "LOCATION": location,
                "KEY_PREFIX": prefix,
                "TIMEOUT": 300,
            }
        }
    )
    django.setup()
    from django.core.cache import cache

    report = {"mismatches": []}
    if mode == "exchange":
        for name, expected in values.items():
            got = cache.get("swift_" + name, "MISSING")
            if not same(got, expected):
                report["mismatches"].append("swift_%s: got %s (%s)" % (name, describe(got), type(got).__name__))
        report["incr"] = cache.incr("swift_counter", 5)
        try:
            report["struct"] = describe(cache.get("swift_struct"))
        except Exception as error:  # what Django sees for a Codable struct Swift wrote as JSON
            report["struct"] = type(error).__name__
        for name, value in {**values, **DJANGO_ONLY}.items():
            cache.set("django_" + name, value)
        cache.set("django_counter", 7)
        for name, value in FOREIGN.items():
            cache.set("foreign_" + name, value)
    elif mode == "after":
        report["django_counter"] = cache.get("django_counter")
        report["swift_counter"] = cache.get("swift_counter")
    cache.close()
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
