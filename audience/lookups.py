"""`field__any=[…]`: membership in a list as one parameter.

`field__in=[…]` writes one placeholder a value, and the client formats and splits a statement of a
thousand of them each time a send's chunk reads or updates its rows. On PostgreSQL `__any` binds
the whole list as one array (`field = ANY(%s::type[])`, one plan whatever its length); elsewhere it
is `__in`. An empty list matches nothing, as `__in` does. On a foreign key the values are ids.
"""

from __future__ import annotations

from django.db.models import Field, ForeignObject
from django.db.models.lookups import In


class AnyOf(In):
    lookup_name = "any"

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql" or not isinstance(self.rhs, list | tuple | set | frozenset):
            return super().as_sql(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection, prepared=True) for value in self.rhs]
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::{field.db_type(connection)}[])", [
            *lhs_params,
            [v for v in values if v is not None],
        ]


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)  # a relation's lookups are its own, not Field's
