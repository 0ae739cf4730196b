"""Writes of the People domain. Views, commands, tasks and the API call these, never the ORM."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audience import counting
from audience.attributes import attribute_value_parse
from audience.contacts import normalize_contact
from audience.models import (
    Account,
    AttributeDefinition,
    Company,
    Contact,
    ContactKind,
    EventDefinition,
    Membership,
    Notification,
    Profile,
    Role,
)
from audience.text import text_storable_fields

PREDEFINED_EVENTS: dict[str, dict[str, Any]] = {
    EventDefinition.APP_LAUNCH: {
        "description": "The app was opened (tracked by the mobile SDK).",
        "properties": {"platform": "text", "app_version": "text"},
    },
}

if TYPE_CHECKING:
    from django.contrib.auth.models import User


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
    text_storable_fields(fields)
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
    counting.data_changed(account_ids=[account.pk])
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
    text_storable_fields(fields)
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
    counting.data_changed(account_ids=[profile.account_id])
    return profile


@transaction.atomic
def profile_write(
    *,
    account: Account,
    fields: dict[str, Any],
    attributes: dict[str, Any] | None = None,
    phones: list[str] | None = None,
    emails: list[str] | None = None,
    tags: list[str] | None = None,
    profile: Profile | None = None,
    replace: bool = False,
) -> Profile:
    """Create a profile (`profile` None), replace one (`replace`: attributes, contacts and tags
    not given are removed) or add to one (the given attributes change, the given phones, emails
    and tags are added to the profile's). None means "not given"; tags are named, and created
    when the account has no such tag yet. The People API's POST, PUT and PATCH."""
    from tags import services as tag_services
    from tags.models import Tag

    def tag_all(target: Profile) -> None:
        if tags:
            named = [tag_services.tag_get_or_create(account=account, name=n) for n in tags]
            tag_services.tags_add(account=account, tags=named, profile_ids=[target.pk])

    if profile is None:
        profile = profile_create(
            account=account,
            fields=fields,
            attributes=attributes or {},
            phones=phones or [],
            emails=emails or [],
        )
        tag_all(profile)
        return profile
    if replace:
        dropped = {name: None for name in profile.attributes if name not in (attributes or {})}
        attributes = {**dropped, **(attributes or {})}
        phones, emails = phones or [], emails or []
    else:
        current = list(profile.contacts.values_list("kind", "value"))
        if phones is not None:
            phones = [v for k, v in current if k == "phone"] + phones
        if emails is not None:
            emails = [v for k, v in current if k == "email"] + emails
    profile_update(profile=profile, fields=fields, attributes=attributes, phones=phones, emails=emails)
    if replace:
        tag_services.tags_remove(
            account=account,
            tags=list(Tag.objects.filter(profile_tags__profile=profile)),
            profile_ids=[profile.pk],
        )
    tag_all(profile)
    return profile


def profile_delete(*, profile: Profile) -> None:
    account_id = profile.account_id
    with transaction.atomic():
        profile.delete()
        counting.data_changed(account_ids=[account_id])


def notification_create(
    *, account: Account, user: User | None, message: str, url: str = "", level: str = "info"
) -> Notification | None:
    if user is None:
        return None
    return Notification.objects.create(
        account=account, user=user, message=message[:500], url=url, level=level
    )


def notifications_mark_read(*, account: Account, user: User, pk: int | None = None) -> int:
    unread = Notification.objects.filter(account=account, user=user, read_at__isnull=True)
    if pk is not None:
        unread = unread.filter(pk=pk)
    return unread.update(read_at=timezone.now())


# --- Companies -------------------------------------------------------------------------------


def _company_save(company: Company) -> Company:
    company.full_clean(exclude=["account"], validate_constraints=False)
    duplicate = Company.objects.filter(account=company.account, name__iexact=company.name)
    if duplicate.exclude(pk=company.pk).exists():
        raise ValidationError({"name": ["Another company has this name."]})
    company.save()
    counting.data_changed(account_ids=[company.account_id])
    return company


@transaction.atomic
def company_create(*, account: Account, fields: dict[str, Any]) -> Company:
    return _company_save(Company(account=account, **fields))


@transaction.atomic
def company_update(*, company: Company, fields: dict[str, Any]) -> Company:
    for name, value in fields.items():
        setattr(company, name, value)
    return _company_save(company)


# --- Custom attributes and event definitions ---------------------------------------------------


def attribute_definition_create(*, account: Account, name: str, type: str) -> AttributeDefinition:
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["Enter a name."]})
    if AttributeDefinition.objects.for_account(account).filter(name__iexact=name).exists():
        raise ValidationError({"name": [f"There is already a custom attribute named {name!r}."]})
    definition = AttributeDefinition(account=account, name=name, type=type)
    definition.full_clean(exclude=["account"], validate_constraints=False)
    definition.save()
    counting.data_changed(account_ids=[account.pk])  # rules naming it compile differently now
    return definition


def attribute_definition_delete(*, definition: AttributeDefinition) -> None:
    """Delete a custom attribute nobody uses: no profile holds the key and no registered user
    (segments, imports…) depends on it. Otherwise ValidationError saying who uses it."""
    from audience import usage

    holders = Profile.objects.filter(account_id=definition.account_id, attributes__has_key=definition.name)
    reasons = (["profiles have a value for it"] if holders.exists() else []) + usage.usage_list(
        usage.ATTRIBUTE, definition
    )
    if reasons:
        raise ValidationError(f"{definition.name} is in use ({'; '.join(reasons)}), so it can't be deleted.")
    definition.delete()
    counting.data_changed(account_ids=[definition.account_id])


# An event property's name: the one rule for the screens and the API (whose schema shows it), so a
# property made on a screen can be sent by the API and referred to in rules.
EVENT_PROPERTY_NAME = r"^[a-z_][a-zA-Z0-9_]{0,127}$"


def _event_properties_clean(properties: dict[str, str]) -> dict[str, str]:
    from audience.models import AttributeType

    cleaned: dict[str, str] = {}
    for name, type_ in properties.items():
        name = str(name).strip()
        if not name:
            continue
        if not re.match(EVENT_PROPERTY_NAME, name):
            raise ValidationError(
                {
                    "properties": [
                        f"{name!r} is not a property name: start with a lower-case letter or _, then "
                        "letters, digits or _ (at most 128), e.g. orderTotal."
                    ]
                }
            )
        if type_ not in AttributeType.values:
            raise ValidationError({"properties": [f"{type_!r} is not a property type."]})
        if name.lower() in {n.lower() for n in cleaned}:
            raise ValidationError({"properties": [f"The property {name!r} is listed twice."]})
        cleaned[name] = type_
    return cleaned


def event_definition_create(
    *, account: Account, name: str, description: str = "", properties: dict[str, str] | None = None
) -> EventDefinition:
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["Enter a name."]})
    if EventDefinition.objects.for_account(account).filter(name__iexact=name).exists():
        raise ValidationError({"name": [f"There is already an event named {name!r}."]})
    definition = EventDefinition(
        account=account,
        name=name,
        description=description.strip(),
        properties=_event_properties_clean(properties or {}),
    )
    definition.full_clean(exclude=["account"], validate_constraints=False)
    definition.save()
    counting.data_changed(account_ids=[account.pk])
    return definition


def event_definition_update(
    *, definition: EventDefinition, description: str, new_properties: dict[str, str] | None = None
) -> EventDefinition:
    """Change the description and add properties. Existing properties keep their type: events
    already stored were typed by it, so a property is never retyped nor removed."""
    added = _event_properties_clean(new_properties or {})
    existing = {n.lower() for n in definition.properties}
    clash = [n for n in added if n.lower() in existing]
    if clash:
        raise ValidationError(
            {"properties": [f"{', '.join(clash)} already exists; a property's type never changes."]}
        )
    definition.description = description.strip()
    definition.properties = {**definition.properties, **added}
    definition.save(update_fields=["description", "properties"])
    counting.data_changed(account_ids=[definition.account_id])  # new properties: rules on them
    return definition


def event_definition_delete(*, definition: EventDefinition) -> None:
    if definition.is_predefined:
        raise ValidationError(f"{definition.name} is predefined and can't be deleted.")
    definition.delete()
    counting.data_changed(account_ids=[definition.account_id])


# --- The account and its members ---------------------------------------------------------------


def account_update(*, account: Account, name: str, time_zone: str) -> Account:
    account.name = name.strip()
    account.time_zone = time_zone
    account.full_clean(validate_constraints=False)
    if Account.objects.filter(name__iexact=account.name).exclude(pk=account.pk).exists():
        raise ValidationError({"name": ["Another account has this name."]})
    account.save(update_fields=["name", "time_zone"])
    counting.data_changed(account_ids=[account.pk])  # relative dates count from the account's today
    return account


def membership_add(*, account: Account, username: str, role: str) -> Membership:
    """Add an existing user to the account."""
    User = get_user_model()
    user = User.objects.filter(**{f"{User.USERNAME_FIELD}__iexact": username.strip()}).first()
    if user is None:
        raise ValidationError({"username": [f"There is no user named {username.strip()!r}."]})
    if Membership.objects.filter(account=account, user=user).exists():
        raise ValidationError({"username": [f"{user.get_username()} is already a member."]})
    return membership_set(account=account, user=user, role=role)


def _admins_left(membership: Membership) -> int:
    # Lock the admins' rows so that two admins demoting each other can't both succeed.
    others = (
        Membership.objects.select_for_update()
        .filter(account_id=membership.account_id, role=Role.ADMIN)
        .exclude(pk=membership.pk)
    )
    return len(others.values_list("pk", flat=True))


@transaction.atomic
def membership_role_change(*, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError(f"{role!r} is not a role.")
    if membership.role == Role.ADMIN and role != Role.ADMIN and _admins_left(membership) == 0:
        raise ValidationError("An account must keep at least one admin.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    if membership.role == Role.ADMIN and _admins_left(membership) == 0:
        raise ValidationError("An account must keep at least one admin.")
    membership.delete()
