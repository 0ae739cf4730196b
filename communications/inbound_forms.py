"""The form of Configuration › Inbound SMS (the words and replies an account adds)."""

from __future__ import annotations

from django import forms

from communications import inbound


class InboundSettingsForm(forms.Form):
    stop_words = forms.CharField(
        required=False,
        max_length=500,
        label="More STOP words",
        help_text=f"Besides {', '.join(inbound.STOP_WORDS)}. Separate them with commas, e.g. ODJAVA, STOPP.",
    )
    start_words = forms.CharField(
        required=False,
        max_length=500,
        label="More START words",
        help_text=f"Besides {', '.join(inbound.START_WORDS)}. Separate them with commas.",
    )
    reply_stop = forms.CharField(
        required=False,
        max_length=480,
        label="Reply to STOP",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Sent even though the number is now blocked: it is the last message it gets. "
        "Blank: no reply.",
    )
    reply_start = forms.CharField(
        required=False,
        max_length=480,
        label="Reply to START",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Sent only if the number is not blocked for SMS from that sender any more. Blank: no reply.",
    )
    reply_help = forms.CharField(
        required=False,
        max_length=480,
        label="Reply to HELP or INFO",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Sent only to a number that is not blocked. Blank: no reply.",
    )
