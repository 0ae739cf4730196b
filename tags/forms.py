from __future__ import annotations

from django import forms

from tags.models import Tag
from tags.services import MAX_NAME


class TagNameForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME, label="Tag name")


class TagMergeForm(forms.Form):
    target = forms.ModelChoiceField(
        queryset=Tag.objects.none(), label="Merge into", empty_label="Choose a tag…"
    )

    def __init__(self, *args, tag: Tag, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = (
            Tag.objects.for_account(tag.account).exclude(pk=tag.pk).order_by("name")
        )


class TagIdsForm(forms.Form):
    ids = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.none(),
        label="Tags",
        error_messages={"required": "Select at least one tag.", "invalid_choice": "That tag is not here."},
    )

    def __init__(self, *args, account, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ids"].queryset = Tag.objects.for_account(account)


class TagBulkForm(forms.Form):
    add = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.none(),
        required=False,
        label="Add existing tags",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    new = forms.CharField(
        required=False,
        max_length=2000,
        label="Create and add new tags",
        help_text="Comma-separated names; a name the account already has adds that tag.",
    )
    remove = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.none(),
        required=False,
        label="Remove tags",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    def __init__(self, *args, account, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("add", "remove"):
            self.fields[name].queryset = Tag.objects.for_account(account).order_by("name")

    def clean_new(self) -> list[str]:
        names = [n.strip() for n in self.cleaned_data["new"].split(",") if n.strip()]
        too_long = [n for n in names if len(n) > MAX_NAME]
        if too_long:
            raise forms.ValidationError(f"A tag name has at most {MAX_NAME} characters.")
        return list(dict.fromkeys(names))

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors and not (data.get("add") or data.get("new") or data.get("remove")):
            raise forms.ValidationError("Choose tags to add or to remove.")
        if set(data.get("add") or []) & set(data.get("remove") or []):
            raise forms.ValidationError("A tag can't be both added and removed.")
        return data


class PanelAddForm(forms.Form):
    name = forms.CharField(
        max_length=MAX_NAME, label="Add a tag", error_messages={"required": "Enter a tag name to add."}
    )
