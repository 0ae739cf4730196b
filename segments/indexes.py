"""Expression indexes for custom attributes (PostgreSQL only; SQLite needs none).

A rule on `custom.<name>` compiles to SQL on the JSON column — `(attributes -> 'spend') >= '500'`
for numbers, booleans and dates, `UPPER((attributes ->> 'tier')::text) = UPPER('gold')` /
`LIKE 'GOLD%'` / `IN (…)` for text — and without an index on exactly that expression every count
reads the whole table. One index per AttributeDefinition:

- partial on its account (`WHERE account_id = N`): a definition belongs to one account, so the index
  holds only that account's rows, writes to other accounts never touch it, and an attribute name
  used by many accounts does not make one index all of them pay for;
- keyed on the expression the compiler emits (built from the same Django expressions, so the SQL
  matches; EXPLAIN in docs/rules.md), `text_pattern_ops` for text so `=` and prefix LIKE both use it;
- INCLUDE (attributes, id): PostgreSQL allows an index-only scan only when every column the query
  names is in the index, and the rule names `attributes` (and `id` when it joins an event or tag
  clause); without them each match costs a heap visit (spend ≥ 500: 375 ms → 140 ms, loaded).

They are created CONCURRENTLY (outside a transaction) by a Celery task after the definition is
committed, dropped when it is deleted (`segments.apps` connects the signals), and
`manage.py segments_indexes` (re)creates them for existing definitions.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection
from django.db.models import F
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Upper
from django.db.models.sql import Query

from audience.models import AttributeDefinition, AttributeType, Profile

log = logging.getLogger(__name__)
PREFIX = "segments_attr_"


def attribute_index_name(definition_pk: int) -> str:
    return f"{PREFIX}{definition_pk}"


def attribute_index_supported(definition: AttributeDefinition) -> bool:
    """Names with `__` are read as a JSON path by the ORM's lookups; no index matches those."""
    return "__" not in definition.name


def attribute_key(definition: AttributeDefinition) -> Any:
    """The expression the compiler's SQL reads for this definition (segments.rules.compile)."""
    if definition.type == AttributeType.TEXT:
        # iexact / istartswith / `in` read UPPER(attributes ->> 'name'); `::text` of text is a no-op.
        return Upper(KeyTextTransform(definition.name, "attributes"))
    # Numbers, booleans, dates compare the JSON value: (attributes -> 'name') >= '500'::jsonb.
    return F(f"attributes__{definition.name}")


def attribute_index_sql(definition: AttributeDefinition, *, concurrently: bool) -> str:
    """CREATE INDEX for the definition: the key compiled by the ORM exactly as in a query (not
    through models.Index, which can't put an operator class on an expression unless
    django.contrib.postgres is installed)."""
    query = Query(Profile, alias_cols=False)
    compiler = query.get_compiler(connection=connection)
    sql, params = compiler.compile(attribute_key(definition).resolve_expression(query))
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        key = sql % tuple(editor.quote_value(param) for param in params)
    opclass = " text_pattern_ops" if definition.type == AttributeType.TEXT else ""
    return (
        f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS "
        f'"{attribute_index_name(definition.pk)}" ON "{Profile._meta.db_table}" (({key}){opclass}) '
        f'INCLUDE ("attributes", "id") WHERE "account_id" = {int(definition.account_id)}'
    )


def existing_attribute_indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s",
            [Profile._meta.db_table, f"{PREFIX}%"],
        )
        return {row[0] for row in cursor.fetchall()}


def attribute_index_create(definition: AttributeDefinition) -> bool:
    """Create the definition's index unless it exists; True when created. CONCURRENTLY (writes
    go on meanwhile) unless called inside a transaction, where PostgreSQL forbids it."""
    if connection.vendor != "postgresql" or not attribute_index_supported(definition):
        return False
    name = attribute_index_name(definition.pk)
    if name in existing_attribute_indexes():
        return False
    with connection.cursor() as cursor:
        cursor.execute(attribute_index_sql(definition, concurrently=not connection.in_atomic_block))
    log.info("created %s for %s", name, definition.name)
    return True


def attribute_index_drop(definition_pk: int) -> None:
    if connection.vendor != "postgresql":
        return
    concurrently = "CONCURRENTLY " if not connection.in_atomic_block else ""
    with connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX {concurrently}IF EXISTS "{attribute_index_name(int(definition_pk))}"')


def attribute_indexes_sync(*, rebuild: bool = False) -> tuple[int, int]:
    """Create the missing indexes of every definition (all again with `rebuild`) and drop those
    of definitions that no longer exist; returns (created, dropped)."""
    if connection.vendor != "postgresql":
        return 0, 0
    wanted = {attribute_index_name(d.pk): d for d in AttributeDefinition.objects.all()}
    dropped = 0
    for name in existing_attribute_indexes():
        if name not in wanted or rebuild:
            attribute_index_drop(int(name[len(PREFIX) :]))
            dropped += name not in wanted
    created = sum(attribute_index_create(d) for d in wanted.values())
    return created, dropped


def _send(task, definition_pk: int) -> None:
    try:
        task.delay(definition_pk)
    except Exception as error:  # the broker is down: rules stay exact, just slower until repaired
        log.warning("%s(%s) not queued (%s); run manage.py segments_indexes", task.name, definition_pk, error)


def on_definition_saved(sender, instance: AttributeDefinition, created: bool = False, **kwargs) -> None:
    """post_save: index a new definition once it is committed (CREATE INDEX CONCURRENTLY can't run
    in the creating transaction, and takes seconds on a big account, so a Celery task does it)."""
    from django.db import transaction

    from segments.tasks import attribute_index_create_task

    if created and connection.vendor == "postgresql" and not kwargs.get("raw"):
        transaction.on_commit(lambda: _send(attribute_index_create_task, instance.pk))


def on_definition_deleted(sender, instance: AttributeDefinition, **kwargs) -> None:
    from django.db import transaction

    from segments.tasks import attribute_index_drop_task

    if connection.vendor == "postgresql":
        pk = instance.pk
        transaction.on_commit(lambda: _send(attribute_index_drop_task, pk))
