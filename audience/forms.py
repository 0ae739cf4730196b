"""Forms of the People screens. They read and check input; writes go through `audience.services`."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from audience.attributes import TYPE_EXPECTATION, attribute_datetime_input, attribute_value_parse
from audience.contacts import PHONE_EXAMPLE, normalize_email, normalize_phone
from audience.fields import FIELD_NAMES, PROFILE_FIELDS
from audience.models import (
    Account,
    AttributeDefinition,
    AttributeType,
    Company,
    Gender,
    Profile,
    ProfileType,
    Role,
)

STANDARD_FIELDS = list(FIELD_NAMES)
ATTRIBUTE_PREFIX = "attr_"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def form_apply_errors(
    form: forms.Form, error: ValidationError, *, aliases: dict[str, str] | None = None
) -> None:
    """Show a service's ValidationError on the form: next to its field when it names one."""
    aliases = aliases or {}
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.message_dict.items():
        field = aliases.get(name, name)
        form.add_error(field if field in form.fields else None, errors)


class _AttributeField(forms.CharField):
    """A custom attribute's input: text on the wire, checked by the attribute's type."""

    def __init__(self, definition: AttributeDefinition, **kwargs: Any) -> None:
        self.attribute_type = definition.type
        widget = {
            AttributeType.DATE: forms.DateInput(attrs={"type": "date"}),
            AttributeType.DATETIME: forms.DateTimeInput(attrs={"type": "datetime-local"}),
            AttributeType.INTEGER: forms.TextInput(attrs={"inputmode": "numeric"}),
            AttributeType.DECIMAL: forms.TextInput(attrs={"inputmode": "decimal"}),
        }.get(definition.type, forms.TextInput())
        super().__init__(
            label=definition.name,
            required=False,
            widget=widget,
            help_text=TYPE_EXPECTATION[definition.type][:1].upper() + TYPE_EXPECTATION[definition.type][1:],
            **kwargs,
        )

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        # A person types the wall time of the account's time zone, which the middleware made current.
        return attribute_value_parse(self.attribute_type, value, zone=timezone.get_current_timezone())


class ProfileForm(forms.ModelForm):
    phones = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=f"One a line, in international format, e.g. {PHONE_EXAMPLE}.",
    )
    emails = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="One a line."
    )
    company = forms.ModelChoiceField(
        queryset=Company.objects.none(), required=False, empty_label="No company"
    )

    class Meta:
        model = Profile
        fields = [*STANDARD_FIELDS, "company"]
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"})}
        labels = {f.name: f.label for f in PROFILE_FIELDS}

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["company"].queryset = Company.objects.for_account(account)
        self.fields["gender"].choices = [("", "Not set"), *Gender.choices]
        self.fields["type"].choices = ProfileType.choices
        self.definitions = list(AttributeDefinition.objects.for_account(account))
        for definition in self.definitions:
            name = f"{ATTRIBUTE_PREFIX}{definition.pk}"
            self.fields[name] = _AttributeField(definition)
            if self.instance.pk and definition.name in self.instance.attributes:
                value = self.instance.attributes[definition.name]
                if definition.type == AttributeType.BOOLEAN:
                    value = "true" if value else "false"
                elif definition.type == AttributeType.DATETIME:
                    value = attribute_datetime_input(value, timezone.get_current_timezone())
                self.initial[name] = value
        if self.instance.pk:
            contacts = list(self.instance.contacts.all())
            self.initial["phones"] = "\n".join(c.value for c in contacts if c.kind == "phone")
            self.initial["emails"] = "\n".join(c.value for c in contacts if c.kind == "email")

    @property
    def attribute_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(ATTRIBUTE_PREFIX)]

    @property
    def standard_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in [*STANDARD_FIELDS, "company"]]

    def _clean_contacts(self, name: str, normalize) -> list[str]:
        values, errors = [], []
        for raw in _lines(self.cleaned_data.get(name, "")):
            try:
                values.append(normalize(raw))
            except ValidationError as error:
                errors.extend(error.messages)
        if errors:
            raise ValidationError(errors)
        return values

    def clean_phones(self) -> list[str]:
        return self._clean_contacts("phones", normalize_phone)

    def clean_emails(self) -> list[str]:
        return self._clean_contacts("emails", normalize_email)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (
            "phones" in data
            and "emails" in data
            and not (data["phones"] or data["emails"] or data.get("external_id", "").strip())
        ):
            raise ValidationError("Give at least one of a phone, an email or an external ID.")
        return data

    def _post_clean(self) -> None:
        # The service validates the model (it knows the account); the form only checks input.
        pass

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields = {name: data[name] for name in STANDARD_FIELDS}
        fields["company"] = data["company"]
        attributes = {d.name: data[f"{ATTRIBUTE_PREFIX}{d.pk}"] for d in self.definitions}
        return {
            "fields": fields,
            "attributes": attributes,
            "phones": data["phones"],
            "emails": data["emails"],
        }

    def error_aliases(self) -> dict[str, str]:
        aliases = {"phone": "phones", "email": "emails"}
        aliases.update({d.name: f"{ATTRIBUTE_PREFIX}{d.pk}" for d in self.definitions})
        return aliases


class CompanyForm(forms.ModelForm):
    class Meta:
        model = Company
        fields = ["name", "external_id", "domain", "country", "industry", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        labels = {"external_id": "External ID"}

    def _post_clean(self) -> None:
        pass


class AttributeDefinitionForm(forms.Form):
    name = forms.CharField(max_length=256)
    type = forms.ChoiceField(choices=AttributeType.choices, help_text="The type can't be changed later.")


class EventDefinitionForm(forms.Form):
    """Name (on create only), description, and new properties (never a retype of an old one)."""

    NEW_ROWS = 4
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["name"]
        for i in range(self.NEW_ROWS):
            self.fields[f"property_{i}"] = forms.CharField(
                required=False, max_length=100, label="Property name"
            )
            self.fields[f"property_type_{i}"] = forms.ChoiceField(
                choices=AttributeType.choices, required=False, label="Type"
            )

    @property
    def property_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"property_{i}"], self[f"property_type_{i}"]) for i in range(self.NEW_ROWS)]

    def new_properties(self) -> dict[str, str]:
        found = {}
        for i in range(self.NEW_ROWS):
            name = self.cleaned_data.get(f"property_{i}", "").strip()
            if name:
                found[name] = self.cleaned_data.get(f"property_type_{i}") or AttributeType.TEXT
        return found


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class AccountForm(forms.Form):
    name = forms.CharField(max_length=100)
    time_zone = forms.ChoiceField(
        choices=_time_zone_choices, help_text="Relative dates in segments count days in this time zone."
    )


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="The user must already exist.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MARKETER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
