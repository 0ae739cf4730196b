"""Each step's count of waiting runs (`FlowStep.waiting`), kept by triggers on the run table.

PostgreSQL: one statement-level trigger per operation (with transition tables), so a statement
that moves a chunk of runs, or enrols a million, changes each step's count once; the steps'
rows are locked in id order first, so two workers moving runs between the same steps cannot
deadlock. SQLite (the embedded default) has row-level triggers only. The counts are set from
the runs when the migration runs.
"""

from django.db import migrations, models

RUN, STEP = "communications_flowrun", "communications_flowstep"


def _postgres_function(name: str, rows: str) -> str:
    """The trigger function: each step's net change from the statement's rows, the steps locked
    in id order, then one UPDATE. A statement that changes no step's count (a claim, a reply)
    stops after the first SELECT."""
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    steps bigint[];
    changes bigint[];
BEGIN
    SELECT array_agg(step_id ORDER BY step_id), array_agg(n ORDER BY step_id) INTO steps, changes
    FROM (
        SELECT step_id, sum(n) AS n FROM ({rows}) AS moved
        WHERE step_id IS NOT NULL GROUP BY step_id HAVING sum(n) <> 0
    ) AS change;
    IF steps IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM {STEP} WHERE id = ANY(steps) ORDER BY id FOR UPDATE;
    UPDATE {STEP} s SET waiting = s.waiting + c.n
        FROM unnest(steps, changes) AS c(step_id, n) WHERE s.id = c.step_id;
    RETURN NULL;
END
$$;
"""


OLD_ROWS = "SELECT step_id, -1 AS n FROM old_runs WHERE state = 'waiting'"
NEW_ROWS = "SELECT step_id, 1 AS n FROM new_runs WHERE state = 'waiting'"

POSTGRES = [
    _postgres_function("flowrun_waiting_insert", NEW_ROWS),
    _postgres_function("flowrun_waiting_update", f"{OLD_ROWS} UNION ALL {NEW_ROWS}"),
    _postgres_function("flowrun_waiting_delete", OLD_ROWS),
    f"CREATE TRIGGER flowrun_waiting_insert AFTER INSERT ON {RUN} REFERENCING NEW TABLE AS new_runs "
    "FOR EACH STATEMENT EXECUTE FUNCTION flowrun_waiting_insert()",
    f"CREATE TRIGGER flowrun_waiting_update AFTER UPDATE ON {RUN} "
    "REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs "
    "FOR EACH STATEMENT EXECUTE FUNCTION flowrun_waiting_update()",
    f"CREATE TRIGGER flowrun_waiting_delete AFTER DELETE ON {RUN} REFERENCING OLD TABLE AS old_runs "
    "FOR EACH STATEMENT EXECUTE FUNCTION flowrun_waiting_delete()",
]
POSTGRES_DROP = [
    f"DROP TRIGGER IF EXISTS flowrun_waiting_{op} ON {RUN}" for op in ("insert", "update", "delete")
] + [f"DROP FUNCTION IF EXISTS flowrun_waiting_{op}()" for op in ("insert", "update", "delete")]

SQLITE = [
    f"CREATE TRIGGER flowrun_waiting_insert AFTER INSERT ON {RUN} WHEN NEW.state = 'waiting' "
    f"BEGIN UPDATE {STEP} SET waiting = waiting + 1 WHERE id = NEW.step_id; END",
    f"CREATE TRIGGER flowrun_waiting_update AFTER UPDATE OF state, step_id ON {RUN} "
    "WHEN OLD.state IS NOT NEW.state OR OLD.step_id IS NOT NEW.step_id BEGIN "
    f"UPDATE {STEP} SET waiting = waiting - 1 WHERE OLD.state = 'waiting' AND id = OLD.step_id; "
    f"UPDATE {STEP} SET waiting = waiting + 1 WHERE NEW.state = 'waiting' AND id = NEW.step_id; END",
    f"CREATE TRIGGER flowrun_waiting_delete AFTER DELETE ON {RUN} WHEN OLD.state = 'waiting' "
    f"BEGIN UPDATE {STEP} SET waiting = waiting - 1 WHERE id = OLD.step_id; END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS flowrun_waiting_{op}" for op in ("insert", "update", "delete")]

BACKFILL = (
    f"UPDATE {STEP} SET waiting = (SELECT count(*) FROM {RUN} r "
    f"WHERE r.step_id = {STEP}.id AND r.state = 'waiting')"
)


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor, [])
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("communications", "0015_whatsapp_templates"),
    ]

    operations = [
        migrations.AddField(
            model_name="flowstep",
            name="waiting",
            field=models.BigIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(
            _run({"postgresql": [*POSTGRES, BACKFILL], "sqlite": [*SQLITE, BACKFILL]}),
            _run({"postgresql": POSTGRES_DROP, "sqlite": SQLITE_DROP}),
        ),
    ]
