from __future__ import annotations

from django import forms

from audience.models import AttributeType, ProfileType
from imports import files
from imports.models import ExportFormat, ImportKind

NEW_FIELD = "__new__"


class UploadForm(forms.Form):
    kind = forms.ChoiceField(
        choices=ImportKind.choices,
        initial=ImportKind.PEOPLE,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        label="What does the file hold?",
    )
    file = forms.FileField(
        label="File", help_text=".csv, .txt, .xlsx, .xls, .ods or a .zip holding one of them"
    )


class ReadingForm(forms.Form):
    encoding = forms.ChoiceField(
        choices=files.ENCODINGS, label="Encoding", widget=forms.Select(attrs={"class": "form-select"})
    )
    delimiter = forms.ChoiceField(
        choices=[(d, n.capitalize()) for d, n in files.DELIMITER_NAMES.items()],
        label="Delimiter",
        required=False,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    skip_rows = forms.IntegerField(
        min_value=0, max_value=10_000, initial=0, label="Skip rows", help_text="Rows above the header row"
    )
    has_header = forms.TypedChoiceField(
        choices=[("", "Detect"), ("header", "Is the header"), ("data", "Is data (no header)")],
        coerce=lambda value: {"header": True, "data": False}.get(value),
        empty_value=None,
        required=False,
        label="First row",
        widget=forms.Select(attrs={"class": "form-select"}),
    )


class MappingForm(forms.Form):
    """One select per column (`field_<i>`), and for "Add new field" its name and type."""

    def __init__(self, *args, headers: list[str], fields: list, initial_mapping: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "— Skip this column —")] + [(f.key, f.label) for f in fields]
        if any(f.key == "phone" for f in fields):
            choices.append((NEW_FIELD, "+ Add new field…"))
        self.headers = headers
        for index, header in enumerate(headers):
            initial = initial_mapping[index] if index < len(initial_mapping) else ""
            self.fields[f"field_{index}"] = forms.ChoiceField(
                choices=choices, required=False, label=header, initial=initial
            )
            self.fields[f"new_name_{index}"] = forms.CharField(
                required=False, max_length=256, label="New field name"
            )
            self.fields[f"new_type_{index}"] = forms.ChoiceField(
                choices=AttributeType.choices,
                required=False,
                label="Type",
                initial=AttributeType.TEXT,
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )

    def columns(self):
        for index, header in enumerate(self.headers):
            yield header, self[f"field_{index}"], self[f"new_name_{index}"], self[f"new_type_{index}"]

    def clean(self):
        data = super().clean()
        for index in range(len(self.headers)):
            if data.get(f"field_{index}") == NEW_FIELD and not (data.get(f"new_name_{index}") or "").strip():
                self.add_error(f"new_name_{index}", "Enter the new field's name.")
        return data

    def mapping(self) -> tuple[list[str], dict[int, tuple[str, str]]]:
        fields, new = [], {}
        for index in range(len(self.headers)):
            key = self.cleaned_data.get(f"field_{index}") or ""
            if key == NEW_FIELD:
                new[index] = (
                    self.cleaned_data[f"new_name_{index}"],
                    self.cleaned_data.get(f"new_type_{index}") or "text",
                )
                key = ""
            fields.append(key)
        return fields, new


class PeopleOptionsForm(forms.Form):
    type = forms.ChoiceField(
        choices=ProfileType.choices,
        initial=ProfileType.LEAD,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        label="Import people as",
    )
    existing = forms.ChoiceField(
        choices=[("keep", "Make no changes"), ("rewrite", "Rewrite with the file's values")],
        initial="keep",
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        label="Profiles that exist already",
    )
    default_tag = forms.BooleanField(required=False, initial=True, label="Add the default tag")
    tags = forms.CharField(
        required=False, max_length=2000, label="Other tags", help_text="Comma-separated; created when missing"
    )

    def options(self) -> dict:
        data = self.cleaned_data
        return {
            "type": data["type"],
            "existing": data["existing"],
            "default_tag": data["default_tag"],
            "tags": [t.strip() for t in data["tags"].split(",") if t.strip()],
        }


class DncOptionsForm(forms.Form):
    accounts = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        label="Add the entries to these accounts",
    )

    def __init__(self, *args, account_choices: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["accounts"].choices = account_choices

    def options(self) -> dict:
        return {"accounts": [int(a) for a in self.cleaned_data["accounts"]]}


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=ExportFormat.choices, initial=ExportFormat.CSV, required=False)
    segment = forms.IntegerField(required=False, min_value=1)
