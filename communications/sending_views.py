"""The screens of sending: Configuration › Senders, Communications › Outbox, the
broadcast form's preview, and the public unsubscribe page that email links open."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audience import access
from audience.htmx import render_page
from audience.views.actions import form_save, service_action
from communications import content, delivery, forms, optout, selectors, senders, services
from communications.models import Sender


def _senders_page(request: HttpRequest, form: forms.SenderForm, status: int = 200) -> HttpResponse:
    context = {"senders": Sender.objects.for_account(request.account), "form": form, "nav": "configuration"}
    return render_page(request, "communications/sender_list.html", context, status=status)


@require_GET
@access.admin_required
def sender_list(request: HttpRequest) -> HttpResponse:
    return _senders_page(request, forms.SenderForm())


@require_POST
@access.admin_required
def sender_create(request: HttpRequest) -> HttpResponse:
    form = forms.SenderForm(request.POST)
    saved = form_save(
        request,
        form,
        lambda data: senders.sender_create(account=request.account, **data),
        success=lambda sender: f"{sender} is now a {sender.get_channel_display()} sender.",
        then="communications:senders",
    )
    return saved if saved is not None else _senders_page(request, form, status=400)


@require_POST
@access.admin_required(row=Sender)
def sender_delete(request: HttpRequest, pk: int) -> HttpResponse:
    sender = access.get_scoped(request, Sender, pk)
    return service_action(
        request,
        lambda: senders.sender_delete(sender=sender),
        success=f"{sender} is deleted.",
        then="communications:senders",
    )


@require_GET
@access.member_required
def outbox(request: HttpRequest) -> HttpResponse:
    rows, older = selectors.outbox_page(account=request.account, before=request.GET.get("before"))
    context = {"rows": rows, "older": older, "nav": "communications"}
    return render_page(request, "communications/outbox.html", context)


@require_http_methods(["GET", "POST"])
@access.editor_required
def broadcast_preview(request: HttpRequest) -> HttpResponse:
    """The message of the broadcast form rendered for a real profile of its audience (htmx)."""
    data = request.POST if request.method == "POST" else request.GET
    spec = forms.audience_from_data(request.account, data)
    profile = selectors.audience_first(
        account=request.account, items=services.audience_items(request.account, spec, flow=None)
    )
    context = preview_context(account=request.account, profile=profile, data=data)
    return render_page(request, "communications/_preview.html", context)


def preview_context(*, account, profile, data) -> dict:
    """What `_preview.html` shows: the message of `data` (channel, subject, text, html) rendered
    for `profile`, or the templates' errors; an SMS's length. A broadcast's form and a flow's
    send step (`flow_views.flow_step_preview`) show the same."""
    channel = data.get("channel") or "SMS"
    fields = {name: data.get(name, "") for name in ("subject", "text", "html")}
    errors = {
        name: content.template_error(value, html=name == "html")
        for name, value in fields.items()
        if value and (channel == "EMAIL" or name == "text")
    }
    rendered = {}
    if profile is not None and not any(errors.values()):
        merge = delivery.merge_contexts(account_id=account.pk, profile_ids=[profile.pk], contacts=True)[
            profile.pk
        ]
        for name, value in fields.items():
            rendered[name] = content.render(content.template_compile(value, html=name == "html"), merge)
    length = content.sms_length(rendered.get("text", fields["text"])) if channel != "EMAIL" else None
    return {
        "profile": profile,
        "rendered": rendered,
        "errors": {k: v for k, v in errors.items() if v},
        "channel": channel,
        "length": length,
    }


@csrf_exempt  # RFC 8058: mail clients POST without cookies; the signed token is the authority
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the page with one button and changes nothing (link scanners follow GETs); POST
    (the button, or a mail client's `List-Unsubscribe=One-Click`) opts the address out."""
    found = optout.optout_find(token=token)
    if found is None:
        raise Http404("This unsubscribe link is not valid.")
    done = request.method == "POST"
    if done:
        optout.optout_apply(optout=found)
    context = {"done": done, "address": found.message.destination, "account": found.broadcast.account}
    return render_page(request, "communications/unsubscribe.html", context)
