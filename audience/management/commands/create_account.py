from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from audience import services
from audience.models import Account


class Command(BaseCommand):
    help = "Create an account and its first admin (the user is created when it does not exist)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="the account's name")
        parser.add_argument("--admin", required=True, help="username of the account's first admin")
        parser.add_argument("--password", help="set this password on the admin user")
        parser.add_argument("--time-zone", default="UTC", help="IANA time zone, e.g. Europe/Zagreb")

    def handle(self, *args, name: str, admin: str, password: str | None, time_zone: str, **options) -> None:
        if Account.objects.filter(name=name).exists():
            raise CommandError(f"An account named {name!r} already exists.")
        try:
            account, user, created = services.account_create_with_admin(
                name=name, username=admin, password=password, time_zone=time_zone
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        who = "new user" if created else "existing user"
        self.stdout.write(f"Created account {account.name!r} (id {account.pk}) with admin {user} ({who}).")
        if created and not password:
            self.stdout.write("The new user has no password yet: set one with `manage.py changepassword`.")
