"""Forms of the communications screens, and reading an audience from a request.

An audience travels between the steps of "Add to communication" as plain fields: `tag`,
`segment`, `company` (ids, repeatable) and `selection` (a People selection as JSON), or the People
bulk-action fields themselves (`ids` repeated, or `all=1` with `query`)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django import forms
from django.apps import apps
from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict

from audience.models import Account, Company, Profile
from audience.selection import Selection
from communications.models import BROADCAST_CHANNELS, FlowStatus, Sender
from communications.services import AudienceSpec


def _ids(values: list[str]) -> list[int]:
    try:
        return sorted({int(value) for value in values if value})
    except ValueError:
        raise Http404("No such item.") from None


def _require_own(account: Account, model, ids: list[int]) -> None:
    # Another account's tag, segment or company answers as one that does not exist.
    if ids and model.objects.filter(account=account, pk__in=ids).count() != len(ids):
        raise Http404(f"No such {model._meta.verbose_name}.")


def audience_from_data(account: Account, data: QueryDict) -> AudienceSpec:
    """The audience named by these fields; Http404 for ids that are not this account's,
    ValidationError for a selection that can't be read."""
    spec = AudienceSpec(
        tag_ids=_ids(data.getlist("tag")),
        segment_ids=_ids(data.getlist("segment")),
        company_ids=_ids(data.getlist("company")),
    )
    _require_own(account, apps.get_model("tags", "Tag"), spec.tag_ids)
    _require_own(account, Company, spec.company_ids)
    if spec.segment_ids:
        try:
            _require_own(account, apps.get_model("segments", "Segment"), spec.segment_ids)
        except LookupError:
            raise Http404("No such segment.") from None
    if data.get("selection"):
        try:
            spec.selections = [Selection.from_json(json.loads(data["selection"]))]
        except (ValueError, TypeError, AttributeError):
            raise ValidationError("The selection of profiles can't be read.") from None
    elif data.getlist("ids") or data.get("all") == "1":
        spec.selections = [Selection.from_post(data)]
    for selection in spec.selections:
        if selection.ids is not None:
            _require_own(account, Profile, sorted(set(selection.ids)))
    return spec


def audience_fields(spec: AudienceSpec) -> list[tuple[str, str]]:
    """The hidden fields that carry `spec` to the next step."""
    fields = [("tag", str(pk)) for pk in spec.tag_ids]
    fields += [("segment", str(pk)) for pk in spec.segment_ids]
    fields += [("company", str(pk)) for pk in spec.company_ids]
    if spec.selections:
        fields.append(("selection", json.dumps(spec.selections[0].to_json(), separators=(",", ":"))))
    return fields


def audience_query(spec: AudienceSpec) -> str:
    return urlencode(audience_fields(spec))


class BroadcastForm(forms.Form):
    name = forms.CharField(label="Broadcast name", max_length=255)
    channel = forms.ChoiceField(label="Channel", choices=BROADCAST_CHANNELS)
    sender = forms.ChoiceField(
        label="Sender",
        required=False,
        choices=[],
        help_text="One of the account's senders (Configuration › Senders) for this channel. "
        "Do Not Contact entries for this sender apply too.",
    )
    subject = forms.CharField(label="Subject (email)", max_length=255, required=False)
    text = forms.CharField(
        label="Message",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="The SMS, or the text version of an email. Merge fields: {{ first_name }}, "
        '{{ custom.tier }}, with a fallback: {{ first_name|default:"there" }}.',
    )
    html = forms.CharField(
        label="HTML version (email)",
        max_length=100_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "form-control font-monospace"}),
        help_text="Optional: without it the text version is sent as simple HTML too.",
    )
    wa_template = forms.CharField(
        label="WhatsApp template (outside the 24-hour window)",
        max_length=512,
        required=False,
        help_text="WhatsApp takes free-form text only from people who wrote to you within 24 hours. "
        "Name an approved template (e.g. spring_sale) for everyone else; without one they are skipped.",
    )
    wa_language = forms.CharField(
        label="Template language (WhatsApp)",
        max_length=16,
        required=False,
        help_text="As the template was approved: en, en_GB, pt_BR…",
    )
    wa_placeholders = forms.CharField(
        label="Template placeholders (WhatsApp)",
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One a line: the first line fills {{1}}, the second {{2}}… Merge fields with a "
        'fallback work: {{ first_name|default:"there" }}.',
    )
    add_tag = forms.TypedMultipleChoiceField(
        label="Profiles with any of these tags", coerce=int, required=False, choices=[]
    )
    add_segment = forms.TypedMultipleChoiceField(
        label="Profiles in any of these segments", coerce=int, required=False, choices=[]
    )

    def __init__(self, *args, account: Account, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        Tag = apps.get_model("tags", "Tag")
        self.fields["add_tag"].choices = list(
            Tag.objects.for_account(account).values_list("pk", "name")[:1000]
        )
        try:
            Segment = apps.get_model("segments", "Segment")
            segments = list(Segment.objects.filter(account=account).values_list("pk", "name")[:1000])
        except LookupError:
            segments = []
        self.fields["add_segment"].choices = segments
        by_channel: dict[str, list[tuple[str, str]]] = {}
        for sender in Sender.objects.for_account(account):
            by_channel.setdefault(sender.get_channel_display(), []).append((sender.address, str(sender)))
        self.fields["sender"].choices = [("", "The provider's default sender"), *by_channel.items()]


class FlowChoiceForm(forms.Form):
    """New flow (with a name) or one of the account's active flows."""

    target = forms.ChoiceField(
        label="Add to",
        choices=[("new", "A new flow"), ("existing", "An existing active flow")],
        initial="new",
        widget=forms.RadioSelect,
    )
    name = forms.CharField(label="Name of the new flow", max_length=255, required=False)
    flow = forms.TypedChoiceField(label="Active flow", coerce=int, required=False, choices=[])

    def __init__(self, *args, flows=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["flow"].choices = [("", "Choose a flow…"), *[(f.pk, f.name) for f in flows]]

    def clean(self):
        data = super().clean()
        if data.get("target") == "new" and not (data.get("name") or "").strip():
            self.add_error("name", "Give the new flow a name.")
        if data.get("target") == "existing" and not data.get("flow"):
            self.add_error("flow", "Choose the flow to add to.")
        return data


class FlowStatusForm(forms.Form):
    status = forms.ChoiceField(choices=FlowStatus.choices)


class SenderForm(forms.Form):
    channel = forms.ChoiceField(label="Channel", choices=BROADCAST_CHANNELS)
    address = forms.CharField(
        label="Address, name or number",
        max_length=100,
        help_text="An email From address, an SMS sender name (3–11 letters or digits) or a number (+385…).",
    )
    label = forms.CharField(
        label="Display name", max_length=100, required=False, help_text="Shown as the From name of emails."
    )
