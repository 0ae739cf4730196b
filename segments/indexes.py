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
  clause); without them each match costs a heap visit (figures: docs/performance.md).

They are created CONCURRENTLY (outside a transaction) as soon as the definition is committed, by
the process that committed it, so that speed never waits for a worker: `migrate`, `seed_demo` and
an import that defines an attribute finish with the indexes in place. Only on a big table (more
than INLINE_ROWS profiles or events, where a build takes tens of seconds) is the build left to a
Celery task. They are dropped when the definition is deleted (`segments.apps` connects the
signals); `manage.py segments_indexes`, and every `migrate` (post_migrate), create the missing
ones for existing definitions.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.db import connection
from django.db.models import F
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Upper
from django.db.models.sql import Query

from audience.models import AttributeDefinition, AttributeType, Event, EventDefinition, Profile

log = logging.getLogger(__name__)
PREFIX = "segments_attr_"
# Up to this many rows in the table (the planner's estimate), an index is built at commit by the
# committing process (~1–3 s per million rows on this machine); past it, by a Celery task.
INLINE_ROWS = 2_000_000


def attribute_index_name(definition_pk: int) -> str:
    return f"{PREFIX}{definition_pk}"


def attribute_index_supported(definition: AttributeDefinition) -> bool:
    """Names with `__` are read as a JSON path by the ORM's lookups; no index matches those."""
    return "__" not in definition.name


def attribute_key(definition: AttributeDefinition) -> Any:
    """The expression the compiler's SQL reads for this definition (segments.rules.compile)."""
    return _json_key("attributes", definition.name, definition.type)


def _json_key(column: str, name: str, type_: str) -> Any:
    if type_ == AttributeType.TEXT:
        # iexact / istartswith / `in` read UPPER(column ->> 'name'); `::text` of text is a no-op.
        return Upper(KeyTextTransform(name, column))
    # Numbers, booleans, dates compare the JSON value: (column -> 'name') >= '500'::jsonb.
    return F(f"{column}__{name}")


def attribute_index_sql(definition: AttributeDefinition, *, concurrently: bool) -> str:
    """CREATE INDEX for the definition: the key compiled by the ORM exactly as in a query (not
    through models.Index, which can't put an operator class on an expression unless
    django.contrib.postgres is installed)."""
    key = _compiled(Profile, attribute_key(definition))
    opclass = " text_pattern_ops" if definition.type == AttributeType.TEXT else ""
    return (
        f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS "
        f'"{attribute_index_name(definition.pk)}" ON "{Profile._meta.db_table}" (({key}){opclass}) '
        f'INCLUDE ("attributes", "id") WHERE "account_id" = {int(definition.account_id)}'
    )


def _compiled(model, expression: Any) -> str:
    """The SQL of `expression` over `model`'s table, exactly as a query compiles it."""
    query = Query(model, alias_cols=False)
    sql, params = query.get_compiler(connection=connection).compile(expression.resolve_expression(query))
    return sql % tuple(_quoted(param) for param in params)


def _quoted(value: Any) -> str:
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        return editor.quote_value(value)


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


def table_rows(model) -> int:
    """The planner's estimate of the table's rows (pg_class.reltuples; -1 before any ANALYZE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table]
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _build_or_send(model, build, task, definition_pk: int) -> None:
    """Build now when the table is small enough (see INLINE_ROWS), else (or when building
    failed) queue the task; counts stay exact either way, only slower until it is built."""
    if table_rows(model) <= INLINE_ROWS:
        try:
            build()
            return
        except Exception as error:  # e.g. a lock wait: the task (or segments_indexes) retries
            log.warning("index of definition %s not built at commit (%s); queued", definition_pk, error)
    _send(task, definition_pk)


def on_definition_saved(sender, instance: AttributeDefinition, created: bool = False, **kwargs) -> None:
    """post_save: index a new definition once it is committed (CREATE INDEX CONCURRENTLY can't run
    in the creating transaction)."""
    from django.db import transaction

    from segments.tasks import attribute_index_create_task

    if created and connection.vendor == "postgresql" and not kwargs.get("raw"):
        transaction.on_commit(
            lambda: _build_or_send(
                Profile, lambda: attribute_index_create(instance), attribute_index_create_task, instance.pk
            )
        )


def on_definition_deleted(sender, instance: AttributeDefinition, **kwargs) -> None:
    from django.db import transaction

    from segments.tasks import attribute_index_drop_task

    if connection.vendor == "postgresql":
        pk = instance.pk
        transaction.on_commit(lambda: _send(attribute_index_drop_task, pk))


# -- event properties -------------------------------------------------------------------------
# A property filter in an event clause (`Purchase` whose `category` is Electronics) reads each
# event's JSON; without an index that is every event of the name in the window, from the heap
# (docs/performance.md). One index per property of each EventDefinition, partial on
# the account AND the event name (so it holds only that event's rows and only those writes pay
# for it), keyed on the compiler's expression then occurred_at (the window), INCLUDE (properties,
# profile_id) for an index-only scan — the same reasoning as the attribute indexes above.
EVENT_PREFIX = "segments_evprop_"


def property_index_name(definition_pk: int, prop: str, type_: str) -> str:
    digest = hashlib.md5(f"{prop}:{type_}".encode(), usedforsecurity=False).hexdigest()[:10]
    return f"{EVENT_PREFIX}{definition_pk}_{digest}"


def property_indexes_wanted(definition: EventDefinition) -> dict[str, str]:
    """{index name: CREATE INDEX} for each of the definition's properties the ORM can index."""
    return {
        property_index_name(definition.pk, prop, type_): property_index_sql(definition, prop, type_)
        for prop, type_ in sorted((definition.properties or {}).items())
        if "__" not in prop and type_ in AttributeType.values
    }


def property_index_sql(definition: EventDefinition, prop: str, type_: str) -> str:
    key = _compiled(Event, _json_key("properties", prop, type_))
    opclass = " text_pattern_ops" if type_ == AttributeType.TEXT else ""
    return (
        f'CREATE INDEX {{concurrently}}IF NOT EXISTS "{property_index_name(definition.pk, prop, type_)}" '
        f'ON "{Event._meta.db_table}" (({key}){opclass}, "occurred_at") INCLUDE ("properties", "profile_id") '
        f'WHERE "account_id" = {int(definition.account_id)} AND "name" = {_quoted(definition.name)}'
    )


def existing_property_indexes(definition_pk: int | None = None) -> set[str]:
    prefix = f"{EVENT_PREFIX}{definition_pk}_" if definition_pk is not None else EVENT_PREFIX
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND starts_with(indexname, %s)",
            [Event._meta.db_table, prefix],
        )
        return {row[0] for row in cursor.fetchall()}


def property_indexes_sync_one(definition_pk: int) -> tuple[int, int]:
    """Create the missing indexes of one event definition and drop those of properties it no
    longer has (all of them once it is deleted); returns (created, dropped)."""
    if connection.vendor != "postgresql":
        return 0, 0
    definition = EventDefinition.objects.filter(pk=definition_pk).first()
    wanted = property_indexes_wanted(definition) if definition is not None else {}
    return _sync(existing_property_indexes(definition_pk), wanted)


def property_indexes_sync(*, rebuild: bool = False) -> tuple[int, int]:
    """The same for every event definition, dropping orphans (`manage.py segments_indexes`)."""
    if connection.vendor != "postgresql":
        return 0, 0
    wanted: dict[str, str] = {}
    for definition in EventDefinition.objects.all():
        wanted.update(property_indexes_wanted(definition))
    return _sync(existing_property_indexes(), wanted, rebuild=rebuild)


def _sync(existing: set[str], wanted: dict[str, str], *, rebuild: bool = False) -> tuple[int, int]:
    concurrently = "" if connection.in_atomic_block else "CONCURRENTLY "
    dropped = created = 0
    with connection.cursor() as cursor:
        for name in existing:
            if name not in wanted or rebuild:
                cursor.execute(f'DROP INDEX {concurrently}IF EXISTS "{name}"')
                dropped += name not in wanted
        for name, sql in wanted.items():
            if name not in existing or rebuild:
                cursor.execute(sql.format(concurrently=concurrently))
                log.info("created %s", name)
                created += 1
    return created, dropped


def on_event_definition_changed(sender, instance: EventDefinition, **kwargs) -> None:
    """post_save / post_delete: bring the definition's property indexes in line once committed."""
    from django.db import transaction

    from segments.tasks import property_indexes_sync_task

    if connection.vendor == "postgresql" and not kwargs.get("raw"):
        pk = instance.pk
        transaction.on_commit(
            lambda: _build_or_send(
                Event, lambda: property_indexes_sync_one(pk), property_indexes_sync_task, pk
            )
        )


def on_migrated(sender, using: str = "default", **kwargs) -> None:
    """post_migrate: the indexes of every existing definition, so a restored or upgraded database
    is fast once `migrate` finishes (only missing ones are built)."""
    from django.db import connections

    if connections[using].vendor != "postgresql" or connections[using].in_atomic_block:
        return
    created = attribute_indexes_sync()[0] + property_indexes_sync()[0]
    if created:
        log.info("built %s missing rule indexes", created)
