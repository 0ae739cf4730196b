from __future__ import annotations

from django import forms

from dnc.models import Channel


class DncEntryForm(forms.Form):
    """The "Add new" line. Validation and normalisation are the service's (`dnc_entry_parse`), so
    the screen, imports and the API refuse the same things with the same words."""

    contact = forms.CharField(
        label="Contact information",
        max_length=255,
        help_text="A phone in international format (+44 7911 123456), an email or a domain (example.com).",
    )
    sender = forms.CharField(label="Sender", max_length=100, required=False, help_text="Blank: every sender.")
    channel = forms.ChoiceField(
        label="Channel", choices=[("", "Every channel"), *Channel.choices], required=False
    )
    accounts = forms.TypedMultipleChoiceField(
        label="Accounts", coerce=int, choices=[], widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, account_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["accounts"].choices = list(account_choices)
        for name, field in self.fields.items():
            # The line sits in the table, so its inputs join the form by the `form` attribute.
            field.widget.attrs["form"] = "dnc-add-form"
            if name == "channel":
                field.widget.attrs["class"] = "form-select form-select-sm"
            elif name != "accounts":
                field.widget.attrs["class"] = "form-control form-control-sm"
            else:
                field.widget.attrs["class"] = "form-check-input"
        self.fields["contact"].widget.attrs.update(placeholder="+44 7911 123456", autofocus=True)
        self.fields["sender"].widget.attrs["placeholder"] = "Every sender"


class DncBulkAddForm(forms.Form):
    """Add the contacts of a People selection: the channel and sender they are blocked for."""

    channel = forms.ChoiceField(
        label="Channel", choices=[("", "Every channel"), *Channel.choices], required=False
    )
    sender = forms.CharField(label="Sender", max_length=100, required=False)
