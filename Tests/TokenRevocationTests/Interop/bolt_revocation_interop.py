"""The Python side of DatabaseRevocation's interop test: plain SQL on Django-Bolt's RevokedToken
table, as Django's ORM writes it (Django-Bolt itself is not installed).

    python bolt_revocation_interop.py DATABASE TABLE COMMAND [JTI ...]

DATABASE is a SQLite file's path or a postgres://USER@HOST:PORT/NAME URL (psycopg).

COMMAND:
  revoke JTI...  what DjangoORMRevocation.revoke does: update_or_create the row by jti, with
                 revoked_at now and expires_at an hour from now (Django's datetime text on SQLite,
                 timestamptz on PostgreSQL)
  check JTI...   what DjangoORMRevocation.is_revoked does (a row exists), and whether the row is
                 live (expires_at later than now)

Prints one JSON object: {"revoked": {jti: bool}, "live": {jti: bool}}.
"""

import json
import sys
from datetime import UTC, datetime, timedelta

database, table, command, jtis = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
quoted = '"' + table.replace('"', '""') + '"'
now = datetime.now(UTC)
expires = now + timedelta(hours=1)

if database.startswith("postgres://"):
    import psycopg

    connection = psycopg.connect(database, autocommit=True)
    marker = "%s"

    def stamp(moment):
        return moment
else:
    import sqlite3

    connection = sqlite3.connect(database, isolation_level=None)
    marker = "?"

    def stamp(moment):
        # What Django's SQLite backend stores for an aware datetime with USE_TZ: naive UTC text.
        return str(moment.astimezone(UTC).replace(tzinfo=None))


report = {"revoked": {}, "live": {}}
cursor = connection.cursor()
for jti in jtis:
    if command == "revoke":
        cursor.execute(
            f'UPDATE {quoted} SET "expires_at" = {marker} WHERE "jti" = {marker}', (stamp(expires), jti)
        )
        if cursor.rowcount == 0:
            cursor.execute(
                f'INSERT INTO {quoted} ("jti", "revoked_at", "expires_at") VALUES ({marker}, {marker}, {marker})',
                (jti, stamp(now), stamp(expires)),
            )
    cursor.execute(f'SELECT "expires_at" > {marker} FROM {quoted} WHERE "jti" = {marker}', (stamp(now), jti))
    row = cursor.fetchone()
    report["revoked"][jti] = row is not None
    report["live"][jti] = bool(row[0]) if row is not None else False
print(json.dumps(report))
