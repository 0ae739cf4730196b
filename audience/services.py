"""Writes of the People domain. Views, commands, tasks and the API call these, never the ORM."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audience.attributes import attribute_value_parse
from audience.contacts import normalize_contact
from audience.models import (
    Account,
    AttributeDefinition,
    Contact,
    ContactKind,
    EventDefinition,
    Membership,
    Notification,
    Profile,
    Role,
)

PREDEFINED_EVENTS = {
    EventDefinition.APP_LAUNCH: {
        "description": "The app was opened (tracked by the mobile SDK).",
        "properties": {"platform": "text", "app_version": "text"},
    },
}


@transaction.atomic
def account_create(*, name: str, time_zone: str = "UTC") -> Account:
    account = Account(name=name, time_zone=time_zone)
    account.full_clean()
    account.save()
    for event_name, spec in PREDEFINED_EVENTS.items():
        EventDefinition.objects.create(
            account=account,
            name=event_name,
            description=spec["description"],
            properties=spec["properties"],
            is_predefined=True,
        )
    return account


def membership_set(*, account: Account, user: AbstractBaseUser, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError(f"{role!r} is not a role: choose one of {', '.join(Role.values)}.")
    membership, _ = Membership.objects.update_or_create(account=account, user=user, defaults={"role": role})
    return membership


@transaction.atomic
def account_create_with_admin(
    *, name: str, username: str, password: str | None = None, time_zone: str = "UTC"
) -> tuple[Account, AbstractBaseUser, bool]:
    """Set up an account and its first admin, creating the user if needed; (account, user, created)."""
    account = account_create(name=name, time_zone=time_zone)
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username)
    if password:
        user.set_password(password)
        user.save()
    elif created:
        user.set_unusable_password()
        user.save()
    membership_set(account=account, user=user, role=Role.ADMIN)
    return account, user, created


def custom_attributes_parse(*, account: Account, raw: dict[str, Any]) -> dict[str, Any]:
    """Type every value of `raw` by its definition; errors name the attribute."""
    definitions = {d.name.lower(): d for d in AttributeDefinition.objects.for_account(account)}
    parsed: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in raw.items():
        definition = definitions.get(name.lower())
        if definition is None:
            errors[name] = [f"There is no custom attribute named {name!r}."]
            continue
        try:
            parsed[definition.name] = attribute_value_parse(definition.type, value)
        except ValidationError as error:
            errors[name] = error.messages
    if errors:
        raise ValidationError(errors)
    return parsed


def _contacts_replace(profile: Profile, contacts: Iterable[tuple[str, str]]) -> None:
    normalized: list[tuple[str, str]] = []
    for kind, raw in contacts:
        value = normalize_contact(kind, raw)
        if (kind, value) not in normalized:
            normalized.append((kind, value))
    taken = Contact.objects.filter(account=profile.account).exclude(profile=profile)
    for kind, value in normalized:
        if taken.filter(kind=kind, value=value).exists():
            raise ValidationError({kind: [f"{value} already belongs to another profile."]})
    profile.contacts.exclude(
        pk__in=[c.pk for c in profile.contacts.all() if (c.kind, c.value) in normalized]
    ).delete()
    existing = set(profile.contacts.values_list("kind", "value"))
    Contact.objects.bulk_create(
        Contact(account=profile.account, profile=profile, kind=kind, value=value)
        for kind, value in normalized
        if (kind, value) not in existing
    )


@transaction.atomic
def profile_create(
    *,
    account: Account,
    fields: dict[str, Any],
    attributes: dict[str, Any] | None = None,
    phones: Iterable[str] = (),
    emails: Iterable[str] = (),
) -> Profile:
    profile = Profile(account=account, **fields)
    profile.attributes = {
        k: v
        for k, v in custom_attributes_parse(account=account, raw=attributes or {}).items()
        if v is not None
    }
    profile.full_clean(exclude=["account", "company"])
    try:
        with transaction.atomic():
            profile.save()
    except IntegrityError:
        raise ValidationError({"external_id": ["Another profile has this external id."]}) from None
    _contacts_replace(
        profile,
        [(ContactKind.PHONE, p) for p in phones] + [(ContactKind.EMAIL, e) for e in emails],
    )
    return profile


@transaction.atomic
def profile_update(
    *,
    profile: Profile,
    fields: dict[str, Any],
    attributes: dict[str, Any] | None = None,
    phones: Iterable[str] | None = None,
    emails: Iterable[str] | None = None,
) -> Profile:
    """Change the given fields; `attributes` values of None remove the attribute; contacts given
    are the profile's whole set of that kind."""
    for name, value in fields.items():
        setattr(profile, name, value)
    if attributes is not None:
        merged = dict(profile.attributes)
        for name, value in custom_attributes_parse(account=profile.account, raw=attributes).items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        profile.attributes = merged
    profile.modified_at = timezone.now()
    profile.full_clean(exclude=["account", "company"])
    try:
        with transaction.atomic():
            profile.save()
    except IntegrityError:
        raise ValidationError({"external_id": ["Another profile has this external id."]}) from None
    if phones is not None or emails is not None:
        current = list(profile.contacts.values_list("kind", "value"))
        wanted = [
            (ContactKind.PHONE, p)
            for p in (phones if phones is not None else [v for k, v in current if k == "phone"])
        ] + [
            (ContactKind.EMAIL, e)
            for e in (emails if emails is not None else [v for k, v in current if k == "email"])
        ]
        _contacts_replace(profile, wanted)
    return profile


def profile_delete(*, profile: Profile) -> None:
    profile.delete()


def notification_create(
    *, account: Account, user: AbstractBaseUser | None, message: str, url: str = "", level: str = "info"
) -> Notification | None:
    if user is None:
        return None
    return Notification.objects.create(
        account=account, user=user, message=message[:500], url=url, level=level
    )


def notifications_mark_read(*, account: Account, user: AbstractBaseUser, pk: int | None = None) -> int:
    unread = Notification.objects.filter(account=account, user=user, read_at__isnull=True)
    if pk is not None:
        unread = unread.filter(pk=pk)
    return unread.update(read_at=timezone.now())
