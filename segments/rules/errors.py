"""The compiler's refusal of an operator it has no rule for. The validator refuses unknown
operators with a path-named error first; this is raised only when a rule reaches the compiler
without it (a bug, or an operator added to the table but not to the compiler), so that nothing
silently becomes another operator."""

from __future__ import annotations


class UnknownOperator(ValueError):
    def __init__(self, operator: object, what: str):
        self.operator, self.what = operator, what
        super().__init__(f"{operator!r} is not an operator for {what}")
