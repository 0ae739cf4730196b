from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audience import api_auth
from audience.models import Account, ApiScope


class Command(BaseCommand):
    help = "Create an API key for an account and print it once (only its hash is stored)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--account", required=True, help="the account's name")
        parser.add_argument("--name", default="Script", help="a label to recognise the key by")
        parser.add_argument("--read-only", action="store_true", help="the key can read but not change data")

    def handle(self, *args, account: str, name: str, read_only: bool, **options) -> None:
        found = Account.objects.filter(name=account).first()
        if found is None:
            raise CommandError(f"There is no account named {account!r}.")
        scope = ApiScope.READ if read_only else ApiScope.READ_WRITE
        row, plain = api_auth.api_key_create(account=found, name=name, scope=scope)
        self.stderr.write(
            f"Created {row.get_scope_display().lower()} key {row.name!r} for {found.name}. Keep it: it is shown only once."
        )
        self.stdout.write(plain)
