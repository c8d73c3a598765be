"""The Django side of the DatabaseCache interop tests (SQLite and PostgreSQL).

    python django_db_interop.py DATABASE TABLE COMMAND

DATABASE is a SQLite file's path, or a postgres://USER@HOST:PORT/NAME URL (Django's PostgreSQL
backend, through psycopg).

COMMAND:
  createtable  run Django's createcachetable for TABLE
  write        create the table (createcachetable), store Django's values under django_* keys
  read         read the swift_* keys Swift stored, incr swift_counter, and report
  schema       report the table's columns and indexes as Django's introspection sees them
  cull         with MAX_ENTRIES 30 and CULL_FREQUENCY 3, set k00…k44 in order; report the keys left
  keys         report the table's cache_key column, sorted

Prints one JSON object.
"""

import json
import sys
from urllib.parse import urlsplit

import django
from django.conf import settings

database, table, command = sys.argv[1], sys.argv[2], sys.argv[3]
if database.startswith("postgres://"):
    url = urlsplit(database)
    engine = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": url.username or "",
        "PASSWORD": url.password or "",
        "HOST": url.hostname,
        "PORT": str(url.port),
    }
else:
    engine = {"ENGINE": "django.db.backends.sqlite3", "NAME": database}
settings.configure(
    DATABASES={"default": engine},
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": table,
            "OPTIONS": {"MAX_ENTRIES": 30, "CULL_FREQUENCY": 3} if command == "cull" else {},
        }
    },
    USE_TZ=True,
)
django.setup()

from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402


def describe(value):
    """A value as [python type name, JSON-able value]."""
    if isinstance(value, bytes):
        return ["bytes", list(value)]
    return [type(value).__name__, value]


report = {}
if command == "createtable":
    call_command("createcachetable", verbosity=0)
    report["created"] = table in connection.introspection.table_names()
elif command == "write":
    call_command("createcachetable", verbosity=0)
    cache.set("django_int", 42, None)
    cache.set("django_negative", -17, None)
    cache.set("django_big", 2**62, None)
    cache.set("django_str", "héllo wörld ☃", None)
    cache.set("django_bytes", b"\x00\x01\x7f\x80\xff", None)
    cache.set("django_true", True, None)
    cache.set("django_false", False, None)
    cache.set("django_float", 1.5, None)
    cache.set("django_none", None, None)
    cache.set("django_counter", 10, 600)
    cache.set("django_expired", "gone", 1)
    with connection.cursor() as cursor:
        # Django writes whole seconds; move one row into the past, as time would.
        cursor.execute(
            'UPDATE "%s" SET "expires" = %%s WHERE "cache_key" = %%s' % table,
            ["2001-01-01 00:00:00", cache.make_key("django_expired")],
        )
    report["made_key"] = cache.make_key("some:key")
elif command == "read":
    names = ["int", "negative", "big", "str", "bytes", "true", "false", "float", "none", "empty", "dict"]
    report["read"] = {name: describe(cache.get("swift_" + name, "MISSING")) for name in names}
    report["has_none"] = cache.has_key("swift_none")
    report["missing"] = cache.get("swift_never_written", "MISSING")
    report["expired"] = cache.get("swift_expired", "MISSING")
    report["incr"] = cache.incr("swift_counter", 5)
    try:
        cache.get("swift_codable")
        report["codable"] = "read"
    except Exception as error:  # what Django does with a value it cannot unpickle
        report["codable"] = type(error).__name__
elif command == "schema":
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
        constraints = connection.introspection.get_constraints(cursor, table)
    report["columns"] = [[column.name, column.type_code, bool(column.null_ok)] for column in description]
    report["primary_key"] = [name for info in constraints.values() if info["primary_key"] for name in info["columns"]]
    report["indexed"] = sorted(
        name for info in constraints.values() if info["index"] and not info["primary_key"] for name in info["columns"]
    )
elif command == "cull":
    call_command("createcachetable", verbosity=0)
    for index in range(45):
        cache.set("k%02d" % index, index, None)
    with connection.cursor() as cursor:
        cursor.execute('SELECT "cache_key" FROM "%s" ORDER BY "cache_key"' % table)
        report["keys"] = [row[0] for row in cursor.fetchall()]
elif command == "keys":
    with connection.cursor() as cursor:
        cursor.execute('SELECT "cache_key" FROM "%s" ORDER BY "cache_key"' % table)
        report["keys"] = [row[0] for row in cursor.fetchall()]
else:
    raise SystemExit("unknown command " + command)
print(json.dumps(report))
