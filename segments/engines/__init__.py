"""Count engines beside the ORM compiler (segments.rules.compile): DuckDB, an in-process columnar
engine that counts a rule over a copy of one account's rows (`duck_load` copies them, `duck_sql`
compiles a rule to one DuckDB statement). Optional; PostgreSQL/SQLite through the ORM stay the
default and the source of truth for who receives a message."""
