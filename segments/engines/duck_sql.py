"""Compiling a rule to ONE DuckDB statement over the tables `duck_load` copies, with the meaning
`segments.rules.compile` gives it on PostgreSQL and SQLite (docs/rules.md, "DuckDB engine").

`prepare(con)` derives, once per load, what the statements read:
  rule_profiles   the profiles with their company's name and every defined custom attribute as
                  typed columns (`a<i>_t` its text, `a<i>_n` its number, `a<i>_b` its boolean, each
                  NULL when the JSON holds another type; `_t` is NULL exactly when the key is missing
                  or JSON null, the compiler's "empty");
  rule_events     the events, sorted by (name, occurred_at) so that DuckDB's zone maps skip the
                  other names and times, with every defined property as typed columns (`e<i>_…`);
  rule_summary    per profile and event name: how many, the first and the last (what
                  audience.models.EventSummary is to PostgreSQL);
  rule_keys       which JSON key went to which columns;
  dnc_profiles    (profile, channel) for every contact the account's Do Not Contact entries block.

A rule becomes `SELECT count(*) FROM rule_profiles p WHERE …`: attribute conditions are column
tests on one scan of the profiles; phones, emails, tags, Do Not Contact and event clauses are
`[NOT] p.id IN (SELECT profile_id …)`, hash semi-joins (the event ones over rule_summary where it
holds the answer, else over the window's events, grouped when a count of 2 or more is asked).
Every positive test is false, never NULL, on an empty value, so `NOT` of it is its complement, as
in the ORM compiler; clauses that admit zero events are such complements. Values are always bound
parameters (`$p<n>`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils.dateparse import parse_datetime

from audience.models import Account
from segments.rules import event_time
from segments.rules import operators as ops
from segments.rules.catalog import Catalog
from segments.rules.compile import pick, relative_range
from segments.rules.operators import AttributeSpec
from segments.rules.validate import RuleErrors, rule_normalize

_NUMBER_TYPES = ("BIGINT", "UBIGINT", "HUGEINT", "DOUBLE")
_TEXT_FUNCTION = {"starts_with": "starts_with", "ends_with": "ends_with", "contains": "contains"}
_COMPARE = {
    "lt": "<",
    "lte": "<=",
    "gte": ">=",
    "gt": ">",
    "before": "<",
    "until": "<=",
    "since": ">=",
    "after": ">",
}
_LOOKUP = {"gte": ">=", "gt": ">", "lt": "<", "lte": "<="}  # event_time bounds
FALSE, TRUE = "false", "true"


# -- after a load -----------------------------------------------------------------------------
def _pointer(key: str) -> str:
    """A JSON pointer to one key (any characters)."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _typed_columns(
    con, source: str, prefix: str, event: str | None = None
) -> tuple[list[str], list[tuple], list[str]]:
    """The SELECT expressions of typed columns for every defined key of a JSON column (its text,
    and its number or boolean when a definition gives it that type) over `v`, the keys' values
    (json_extract of the returned paths), and rule_keys' rows. With `event`, only the keys that
    event defines get values; the others are NULL (a rule names only an event's own properties)."""
    found = con.execute(
        "SELECT key, list(DISTINCT type), list(event) FROM json_keys WHERE source = ? GROUP BY key ORDER BY key",
        [source],
    ).fetchall()
    expressions, keys, paths = [], [], []
    for index, (key, types, events) in enumerate(found, start=1):
        if event is None or event in events:
            paths.append(_pointer(key))
            value = f"v[{len(paths)}]"
        else:
            value = "CAST(NULL AS JSON)"
        text, number, boolean = f"{prefix}{index}_t", f"{prefix}{index}_n", f"{prefix}{index}_b"
        expressions.append(f"json_extract_string({value}, '$') AS {text}")
        if {ops.INTEGER, ops.DECIMAL} & set(types):
            expressions.append(
                f"CASE WHEN json_type({value}) IN {_NUMBER_TYPES} THEN CAST({value} AS DOUBLE) END AS {number}"
            )
        else:
            number = None
        if ops.BOOLEAN in types:
            expressions.append(
                f"CASE WHEN json_type({value}) = 'BOOLEAN' THEN CAST({value} AS BOOLEAN) END AS {boolean}"
            )
        else:
            boolean = None
        keys.append((source, key, text, number, boolean))
    return expressions, keys, paths or ["/"]


def _events_prepare(con) -> list[tuple]:
    """rule_events, one event name after the other (so DuckDB's zone maps skip the other names'
    row groups), each in time order, reading only the properties that event defines."""
    names = [row[0] for row in con.execute("SELECT DISTINCT name FROM events ORDER BY name").fetchall()]
    con.execute("DROP TABLE IF EXISTS rule_events")
    keys: list[tuple] = []
    for index, name in enumerate(names or [None]):
        properties, keys, paths = _typed_columns(con, "properties", "e", name or "")
        rows = (
            "SELECT profile_id, name, occurred_at"
            + "".join(f", {e}" for e in properties)
            + " FROM (SELECT *, json_extract(properties, $paths) AS v FROM events WHERE name = $name)"
            " ORDER BY occurred_at"
        )
        if index == 0:
            con.execute(f"CREATE TABLE rule_events AS {rows}", {"paths": paths, "name": name})
        else:
            con.execute(f"INSERT INTO rule_events {rows}", {"paths": paths, "name": name})
    return keys


def prepare(con) -> None:
    """Derive rule_profiles, rule_events, rule_keys and dnc_profiles from the loaded tables."""
    from audience.fields import FIELD_NAMES

    con.execute("SET enable_progress_bar = false")
    con.execute("BEGIN TRANSACTION")
    try:
        attributes, attribute_keys, paths = _typed_columns(con, "attributes", "a")
        standard = ", ".join(f'p."{name}"' for name in FIELD_NAMES)
        con.execute(
            f"CREATE OR REPLACE TABLE rule_profiles AS SELECT p.id, {standard}, p.company_id,"
            " c.name AS company_name, p.created_at, p.modified_at"
            + "".join(f", {e}" for e in attributes)
            + " FROM (SELECT *, json_extract(attributes, $paths) AS v FROM profiles) p"
            " LEFT JOIN companies c ON c.id = p.company_id ORDER BY p.id",
            {"paths": paths},
        )
        property_keys = _events_prepare(con)
        con.execute(
            "CREATE OR REPLACE TABLE rule_summary AS SELECT name, profile_id, count(*) AS n,"
            " min(occurred_at) AS first_at, max(occurred_at) AS last_at FROM events GROUP BY name, profile_id"
            " ORDER BY name, n"
        )
        con.execute(
            "CREATE OR REPLACE TABLE rule_keys (source VARCHAR, key VARCHAR, text VARCHAR,"
            " number VARCHAR, boolean VARCHAR)"
        )
        if attribute_keys or property_keys:
            con.executemany("INSERT INTO rule_keys VALUES (?, ?, ?, ?, ?)", attribute_keys + property_keys)
        # As dnc.selectors.profiles_blocked_parts: contacts equal to an entry's value, and emails
        # whose domain (after the first "@") is a domain entry's.
        con.execute(
            "CREATE OR REPLACE TABLE dnc_profiles AS"
            " SELECT DISTINCT c.profile_id, d.channel FROM contacts c JOIN dnc_entries d ON d.value = c.value"
            " UNION"
            " SELECT DISTINCT c.profile_id, d.channel FROM contacts c JOIN dnc_entries d"
            " ON d.kind = 'domain' AND c.kind = 'email' AND d.value = substr(c.value, strpos(c.value, '@') + 1)"
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


# -- a rule -----------------------------------------------------------------------------------
def _moment(value: dt.datetime) -> dt.datetime:
    """An aware moment as the naive UTC TIMESTAMP the tables hold."""
    return value.astimezone(dt.UTC).replace(tzinfo=None)


class DuckCompiler:
    def __init__(self, con, account: Account, *, now: dt.datetime, catalog: Catalog | None = None):
        self.account = account
        self.catalog = catalog or Catalog(account)
        self.now = now
        self.today = now.astimezone(account.tz).date()
        self.params: dict[str, Any] = {}
        self.keys: dict[tuple[str, str], tuple[str, str | None, str | None]] = {
            (source, key): (text, number, boolean)
            for source, key, text, number, boolean in con.execute("SELECT * FROM rule_keys").fetchall()
        }

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    # -- the whole rule -----------------------------------------------------------------------
    def statement(self, rule: dict, select: str) -> tuple[str, dict[str, Any]]:
        where = [self.group(rule["attributes"])] if rule.get("attributes") else []
        where += [self.event(clause) for clause in rule.get("events") or []]
        sql = f"SELECT {select} FROM rule_profiles p"
        if where:
            sql += " WHERE " + " AND ".join(f"({w})" for w in where)
        return sql, self.params

    def group(self, group: dict) -> str:
        parts = [self.group(c) if "conditions" in c else self.condition(c) for c in group["conditions"]]
        if not parts:
            return TRUE
        return (" OR " if group["match"] == "any" else " AND ").join(f"({part})" for part in parts)

    # -- one condition ------------------------------------------------------------------------
    def condition(self, condition: dict) -> str:
        spec = self.catalog.attribute(condition["attribute"])
        operator, value = condition["operator"], condition.get("value")
        if operator in ops.NEGATIONS:
            return f"NOT ({self.positive(spec, ops.NEGATIONS[operator], value)})"
        return self.positive(spec, operator, value)

    def positive(self, spec: AttributeSpec, operator: str, value: Any) -> str:
        """A test that is true or false, never NULL, so that NOT of it is its complement."""
        if spec.source == "tags":
            return self.tags(operator, value)
        if spec.source == "contact":
            return self.contacts(spec.key, operator, value)
        if spec.source == "dnc":
            pick({"is": None}, operator, "Do Not Contact")
            if value == "any":
                return "p.id IN (SELECT profile_id FROM dnc_profiles)"
            return f"p.id IN (SELECT profile_id FROM dnc_profiles WHERE channel IN ('', {self.bind(value)}))"
        if spec.source == "company":
            if operator == "is_empty":
                return "p.company_id IS NULL"
            return self.value_test("p.company_name", None, None, spec, operator, value, nullable=True)
        if spec.source == "custom":
            return self.json_test("attributes", spec.label, spec, operator, value, "p")
        column = f'p."{spec.key}"'
        if operator == "is_empty":
            if spec.kind == ops.DATETIME:  # created_at / modified_at are never empty
                return FALSE
            return f"{column} IS NULL" if spec.kind == ops.DATE else f"{column} = ''"
        return self.value_test(column, column, None, spec, operator, value, nullable=spec.kind == ops.DATE)

    def json_test(
        self, source: str, key: str, spec: AttributeSpec, operator: str, value: Any, alias: str
    ) -> str:
        """A custom attribute's (source "attributes") or an event property's ("properties") test."""
        text, number, boolean = self.keys.get((source, key), (None, None, None))
        text, number, boolean = (f"{alias}.{c}" if c else None for c in (text, number, boolean))
        if operator == "is_empty":  # missing or JSON null
            return f"{text} IS NULL" if text else TRUE
        if text is None:  # no value of the key anywhere
            pick(self._FAMILIES, spec.kind, f"{spec.label} (kind {spec.kind!r})")
            return FALSE
        return self.value_test(text, number, boolean, spec, operator, value, nullable=True)

    def value_test(
        self,
        text: str,
        number: str | None,
        boolean: str | None,
        spec: AttributeSpec,
        operator: str,
        value: Any,
        *,
        nullable: bool,
    ) -> str:
        """The test of one value: `text` is the column (or the JSON key's text), `number` and
        `boolean` its typed columns for custom attributes and properties (None: no such value)."""
        family = pick(self._FAMILIES, spec.kind, f"{spec.label} (kind {spec.kind!r})")
        column, test = family(self, text, number, boolean, spec, operator, value)
        if column is None:
            return FALSE
        return f"{column} IS NOT NULL AND {test}" if nullable else test

    def _text(self, text, number, boolean, spec, operator, value) -> tuple[str | None, str]:
        if operator == "in":
            items = ", ".join(f"upper({self.bind(str(item))})" for item in value)
            return text, f"upper({text}) IN ({items})"
        if operator == "is":
            return text, f"upper({text}) = upper({self.bind(str(value))})"
        function = pick(_TEXT_FUNCTION, operator, spec.label)
        return text, f"{function}(upper({text}), upper({self.bind(str(value))}))"

    def _number(self, text, number, boolean, spec, operator, value) -> tuple[str | None, str]:
        if operator in ("is", "in"):
            values = value if operator == "in" else [value]
            return number, f"{number} IN ({', '.join(self.bind(float(v)) for v in values)})"
        return number, f"{number} {pick(_COMPARE, operator, spec.label)} {self.bind(float(value))}"

    def _exact(self, text, number, boolean, spec, operator, value) -> tuple[str | None, str]:
        """Booleans (custom attributes and properties) and choices (type, gender: exact)."""
        pick({"is": None, "in": None}, operator, spec.label)
        values = value if operator == "in" else [value]
        column = boolean if spec.kind == ops.BOOLEAN else text
        return column, f"{column} IN ({', '.join(self.bind(v) for v in values)})"

    def _date(self, text, number, boolean, spec, operator, value) -> tuple[str | None, str]:
        """Standard dates/date-times compare typed values; custom ones (and properties) their
        stored ISO text, as the ORM compiler does (dates "YYYY-MM-DD", date-times "…Z" in UTC)."""
        stored_text = spec.source != "column"
        if spec.kind == ops.DATE:
            as_value: Callable[[Any], Any] = (lambda d: d.isoformat()) if stored_text else (lambda d: d)
            parse: Callable[[str], Any] = (lambda v: v) if stored_text else dt.date.fromisoformat
        else:
            as_value = (
                (lambda m: m.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"))
                if stored_text
                else _moment
            )
            parse = (
                (lambda v: v)
                if stored_text
                else (lambda v: _moment(parse_datetime(v.replace("Z", "+00:00"))))
            )
        if operator in ("is", "in"):
            values = value if operator == "in" else [value]
            return text, f"{text} IN ({', '.join(self.bind(parse(v)) for v in values)})"
        if operator in _COMPARE:
            return text, f"{text} {_COMPARE[operator]} {self.bind(parse(value))}"
        first, last, _ = relative_range(operator, value, self.today)
        tests = []
        if spec.kind == ops.DATE:
            if first is not None:
                tests.append(f"{text} >= {self.bind(as_value(first))}")
            if last is not None:
                tests.append(f"{text} <= {self.bind(as_value(last))}")
        else:  # the date part in the account's time zone: a half-open range of moments

            def start(day: dt.date) -> Any:
                return as_value(dt.datetime.combine(day, dt.time(), tzinfo=self.account.tz))

            if first is not None:
                tests.append(f"{text} >= {self.bind(start(first))}")
            if last is not None:
                tests.append(f"{text} < {self.bind(start(last + dt.timedelta(days=1)))}")
        return text, " AND ".join(tests) or TRUE

    _FAMILIES = {
        ops.TEXT: _text,
        ops.INTEGER: _number,
        ops.DECIMAL: _number,
        ops.BOOLEAN: _exact,
        ops.CHOICE: _exact,
        ops.DATE: _date,
        ops.DATETIME: _date,
    }

    # -- special keys -------------------------------------------------------------------------
    def contacts(self, kind: str, operator: str, value: Any) -> str:
        """Stored normalised (emails lower-case, phones E.164): a lower-cased needle, compared
        case-sensitively, as segments.rules.compile._contact_q."""
        rows = f"SELECT profile_id FROM contacts WHERE kind = {self.bind(kind)}"
        if operator == "is_empty":
            return f"NOT (p.id IN ({rows}))"
        if operator == "in":
            needles = ", ".join(self.bind(str(v).strip().lower()) for v in value)
            return f"p.id IN ({rows} AND value IN ({needles}))"
        needle = self.bind(str(value).strip().lower())
        if operator == "is":
            return f"p.id IN ({rows} AND value = {needle})"
        function = pick(_TEXT_FUNCTION, operator, "a phone or an email")
        return f"p.id IN ({rows} AND {function}(value, {needle}))"

    def tags(self, operator: str, value: Any) -> str:
        if operator == "is_empty":
            return "NOT (p.id IN (SELECT profile_id FROM profile_tags))"
        if operator != "in":
            pick({"is": None}, operator, "tags")
        names = value if operator == "in" else [value]
        wanted = ", ".join(f"upper({self.bind(str(name))})" for name in names)
        return f"p.id IN (SELECT profile_id FROM profile_tags WHERE upper(tag) IN ({wanted}))"

    # -- events -------------------------------------------------------------------------------
    def event(self, clause: dict) -> str:
        """`[NOT] p.id IN (the profiles with >= n or exactly n matching events)`, as
        segments.rules.compile.event_matches: the comparisons that admit zero (`lt 3`, `equals 0`)
        and `performed: false` are complements, so profiles without events are counted."""
        occurrence = clause.get("occurrence") or {"operator": "gte", "count": 1}
        count = int(occurrence["count"])
        occurrences = {
            "gte": ("gte", count, False),
            "gt": ("gte", count + 1, False),
            "lt": ("gte", count, True),
            "lte": ("gte", count + 1, True),
            "equals": ("exact", count, False) if count else ("gte", 1, True),
        }
        lookup, n, negated = pick(occurrences, occurrence["operator"], "an occurrence")
        negated = negated != (not clause.get("performed", True))
        if lookup == "gte" and n <= 0:
            positive = TRUE
        else:
            positive = (
                f"p.id IN ({self.summary_rows(clause, lookup, n) or self.event_rows(clause, lookup, n)})"
            )
        return f"NOT ({positive})" if negated else positive

    def _bounds(self, clause: dict) -> tuple[event_time.Bound, event_time.Bound]:
        return event_time.window(clause["time"]["operator"]).bounds(clause["time"], self.now)

    def summary_rows(self, clause: dict, lookup: str, n: int) -> str | None:
        """From rule_summary (per profile and name: count, first and last time) where it holds the
        answer: any time, every count; a window open at one end, "at least once" (events after T
        exist exactly when the last one is after T). None when the events themselves are needed."""
        if clause.get("properties"):
            return None
        (lower_lookup, lower), (upper_lookup, upper) = self._bounds(clause)
        open_ended = lower is None or upper is None
        if (lower is not None or upper is not None) and ((lookup, n) != ("gte", 1) or not open_ended):
            return None
        rows = f"SELECT profile_id FROM rule_summary WHERE name = {self.bind(clause['event'])}"
        if lower is not None:
            return f"{rows} AND last_at {_LOOKUP[lower_lookup]} {self.bind(_moment(lower))}"
        if upper is not None:
            return f"{rows} AND first_at {_LOOKUP[upper_lookup]} {self.bind(_moment(upper))}"
        return f"{rows} AND n {'>=' if lookup == 'gte' else '='} {self.bind(n)}"

    def event_rows(self, clause: dict, lookup: str, n: int) -> str:
        tests = [f"name = {self.bind(clause['event'])}"]
        (lower_lookup, lower), (upper_lookup, upper) = self._bounds(clause)
        if lower is not None:
            tests.append(f"occurred_at {_LOOKUP[lower_lookup]} {self.bind(_moment(lower))}")
        if upper is not None:
            tests.append(f"occurred_at {_LOOKUP[upper_lookup]} {self.bind(_moment(upper))}")
        types = dict(self.catalog.event(clause["event"]).properties or {})
        for prop in clause.get("properties") or []:
            name = prop["property"]
            spec = AttributeSpec(name, name, types.get(name, ops.TEXT), source="custom")
            operator = prop["operator"]
            positive = ops.NEGATIONS.get(operator, operator)
            test = self.json_test("properties", name, spec, positive, prop.get("value"), "rule_events")
            tests.append(f"NOT ({test})" if operator in ops.NEGATIONS else f"({test})")
        rows = "SELECT profile_id FROM rule_events WHERE " + " AND ".join(tests)
        if (lookup, n) == ("gte", 1):
            return rows
        return f"{rows} GROUP BY profile_id HAVING count(*) {'>=' if lookup == 'gte' else '='} {self.bind(n)}"


def _compile(con, rule: dict, account: Account, now: dt.datetime, select: str) -> tuple[str, dict]:
    catalog = Catalog(account)
    normalised, errors = rule_normalize(rule, catalog)
    if errors:
        raise RuleErrors(errors)
    return DuckCompiler(con, account, now=now, catalog=catalog).statement(normalised, select)


def rule_sql(con, rule: dict, *, account: Account, now: dt.datetime) -> tuple[str, dict[str, Any]]:
    """The count statement of a rule and its parameters (for EXPLAIN and the docs)."""
    return _compile(con, rule, account, now, "count(*)")


def rule_count(con, rule: dict, *, account: Account, now: dt.datetime) -> int:
    """How many of the loaded account's profiles match `rule` (RuleErrors when it is invalid)."""
    sql, params = _compile(con, rule, account, now, "count(*)")
    return con.execute(sql, params).fetchone()[0]


def rule_ids(con, rule: dict, *, account: Account, now: dt.datetime) -> list[int]:
    """The ids of the profiles matching `rule`, sorted."""
    sql, params = _compile(con, rule, account, now, "p.id")
    return [row[0] for row in con.execute(sql + " ORDER BY p.id", params).fetchall()]
