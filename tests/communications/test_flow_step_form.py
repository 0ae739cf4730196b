"""The "Add a step" form through the real URLs: only the chosen kind's fields (htmx swaps them on
a change of kind, the page's `?kind=` does without JavaScript), and a refused step comes back with
its values and the error next to its field (the partial for htmx, the whole page otherwise)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audience.selection import Selection
from communications import flows, services
from communications.models import StepKind
from tests.communications.conftest import make_profile


@pytest.fixture
def flow(account):
    ana = make_profile(account, "Ana")
    return services.flow_create(
        account=account,
        user=None,
        name="Welcome",
        audience=services.AudienceSpec(selections=[Selection(ids=[ana.pk])]),
    )


def fields_url(flow):
    return reverse("communications:flow_step_fields", args=[flow.pk])


def names(html: str) -> set[str]:
    import re

    return set(re.findall(r'name="([a-z_]+)"', html)) - {"csrfmiddlewaretoken"}


def test_each_kind_shows_only_its_fields(owner_client, flow):
    expected = {
        "send": {
            "kind",
            "channel",
            "sender",
            "subject",
            "text",
            "html",
            "wa_template",
            "wa_language",
            "wa_placeholders",
        },
        "wait_reply": {"kind", "amount", "unit"},
        "branch": {"kind", "reply_contains", "rule", "then", "else"},
        "add_tag": {"kind", "tag"},
        "add_dnc": {"kind", "channel", "sender"},
        "exit": {"kind"},
    }
    for kind, fields in expected.items():
        response = owner_client.get(fields_url(flow), {"kind": kind}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert "<html" not in response.text  # the partial only
        assert names(response.text) == fields, kind
    wait = {
        "duration": {"kind", "mode", "amount", "unit"},
        "time_of_day": {"kind", "mode", "time"},
        "date_attribute": {"kind", "mode", "attribute", "offset_days", "time"},
    }
    for mode, fields in wait.items():
        response = owner_client.get(fields_url(flow), {"kind": "wait", "mode": mode}, HTTP_HX_REQUEST="true")
        assert names(response.text) == fields, mode


def test_without_javascript_the_page_takes_the_kind_from_the_query(owner_client, flow):
    page = owner_client.get(flow.get_absolute_url(), {"kind": "wait", "mode": "time_of_day"})
    assert page.status_code == 200
    add = page.text[page.text.index('id="step-add"') :]
    assert 'name="time"' in add and 'name="amount"' not in add and 'name="channel"' not in add
    assert "Show its fields" in add  # the <noscript> button that reloads with the choice
    assert 'value="wait" selected' in add or '<option value="wait" selected>' in add


def test_a_refused_step_comes_back_with_the_error_at_its_field(owner_client, flow):
    url = reverse("communications:flow_step_add", args=[flow.pk])
    data = {"kind": "wait", "mode": "duration", "amount": "soon", "unit": "days"}
    partial = owner_client.post(url, data, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "<html" not in partial.text
    assert 'class="form-control form-control-sm is-invalid" id="new-amount"' in partial.text
    assert 'id="new-amount-error">Give the wait as a whole number.<' in partial.text
    assert 'value="soon"' in partial.text
    page = owner_client.post(url, {"kind": "send", "channel": "SMS", "text": ""})
    assert page.status_code == 400 and "<html" in page.text
    assert 'id="new-text-error">Write the message.<' in page.text
    assert '<option value="SMS" selected>' in page.text
    assert not flow.steps.exists()


def test_an_added_step_redirects_htmx_to_the_page(owner_client, flow):
    url = reverse("communications:flow_step_add", args=[flow.pk])
    response = owner_client.post(url, {"kind": "exit"}, HTTP_HX_REQUEST="true")
    step = flow.steps.get()
    assert step.kind == StepKind.EXIT and response.status_code == 204
    assert response["HX-Redirect"] == f"{flow.get_absolute_url()}?at={step.pk}#step-{step.pk}"


def test_a_refused_edit_shows_the_error_in_that_steps_form(owner_client, flow):
    step = flows.flow_step_add(flow=flow, kind=StepKind.WAIT_REPLY, config={"amount": 2, "unit": "days"})
    url = reverse("communications:flow_step_edit", args=[flow.pk, step.pk])
    partial = owner_client.post(url, {"amount": "0", "unit": "days"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert f'id="{step.pk}-amount-error">A wait lasts at least 1 day.<' in partial.text
    assert '<details class="mt-2" open>' in partial.text
    step.refresh_from_db()
    assert step.config == {"amount": 2, "unit": "days"}
    page = owner_client.get(flow.get_absolute_url())
    assert f'id="{step.pk}-amount" name="amount" inputmode="numeric" required value="2"' in page.text


def edit_urls(flow, step):
    return (
        reverse("communications:flow_step_edit", args=[flow.pk, step.pk]),
        reverse("communications:flow_step_edit_fields", args=[flow.pk, step.pk]),
    )


@pytest.fixture
def wait(flow):
    return flows.flow_step_add(
        flow=flow, kind=StepKind.WAIT, config={"mode": "duration", "amount": 2, "unit": "days"}
    )


def test_it_offers_a_wait_steps_mode_in_its_edit_form(owner_client, flow, wait):
    page = owner_client.get(flow.get_absolute_url()).text
    edit, fields = edit_urls(flow, wait)
    form = page[page.index(f'action="{edit}"') :]
    form = form[: form.index("</form>")]
    assert f'<label class="form-label small" for="{wait.pk}-mode">Wait</label>' in form
    assert f'hx-get="{fields}" hx-trigger="change" hx-target="[id=\'{wait.pk}-wait-fields\']"' in form
    assert '<option value="duration" selected>A duration</option>' in form
    assert 'type="hidden" name="mode"' not in form
    assert 'name="fields" value="1">Show its fields</button>' in form  # without JavaScript
    assert names(form) == {"mode", "amount", "unit", "fields"}


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_it_swaps_in_the_chosen_modes_fields(request, who, flow, wait):
    client = request.getfixturevalue(who)
    _, fields = edit_urls(flow, wait)
    response = client.get(fields, {"mode": "date_attribute", "time": "07:15"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "<html" not in response.text
    assert response.text.strip().startswith(f'<div class="row g-2" id="{wait.pk}-wait-fields"')
    assert names(response.text) == {"attribute", "offset_days", "time"}
    assert f'for="{wait.pk}-attribute">Until the date attribute</label>' in response.text
    assert 'value="07:15"' in response.text  # the time it shared with the fields before
    response = client.get(fields, {"mode": "time_of_day"}, HTTP_HX_REQUEST="true")
    assert names(response.text) == {"time"}


@pytest.mark.parametrize(
    ("data", "config", "summary"),
    [
        ({"mode": "time_of_day", "time": "09:30"}, {"mode": "time_of_day", "time": "09:30"}, "until 09:30"),
        (
            {"mode": "date_attribute", "attribute": "contract_expiry", "offset_days": "-3", "time": "08:00"},
            {"mode": "date_attribute", "attribute": "contract_expiry", "offset_days": -3, "time": "08:00"},
            "until 3 days before contract_expiry at 08:00",
        ),
    ],
)
def test_it_changes_a_wait_steps_mode(owner_client, flow, wait, data, config, summary):
    edit, _ = edit_urls(flow, wait)
    response = owner_client.post(edit, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    wait.refresh_from_db()
    assert wait.config == config
    assert summary in owner_client.get(flow.get_absolute_url()).text
    owner_client.post(edit, {"mode": "duration", "amount": "5", "unit": "hours"})
    wait.refresh_from_db()
    assert wait.config == {"mode": "duration", "amount": 5, "unit": "hours"}


def test_a_refused_mode_change_shows_the_new_modes_fields_with_the_error(owner_client, flow, wait):
    edit, _ = edit_urls(flow, wait)
    partial = owner_client.post(
        edit, {"mode": "date_attribute", "offset_days": "soon"}, HTTP_HX_REQUEST="true"
    )
    assert partial.status_code == 200 and "<html" not in partial.text
    assert '<option value="date_attribute" selected>' in partial.text
    assert f'id="{wait.pk}-attribute-error">Name the date attribute to wait for' in partial.text
    assert f'aria-describedby="{wait.pk}-attribute-error"' in partial.text
    assert 'name="amount"' not in partial.text[partial.text.index(f'action="{edit}"') :].split("</form>")[0]
    wait.refresh_from_db()
    assert wait.config == {"mode": "duration", "amount": 2, "unit": "days"}


def test_without_javascript_show_its_fields_answers_the_form_and_saves_nothing(owner_client, flow, wait):
    edit, _ = edit_urls(flow, wait)
    page = owner_client.post(edit, {"mode": "time_of_day", "amount": "2", "unit": "days", "fields": "1"})
    assert page.status_code == 200 and "<html" in page.text
    form = page.text[page.text.index(f'action="{edit}"') :].split("</form>")[0]
    assert names(form) == {"mode", "time", "fields"} and "was not saved" not in form
    assert '<option value="time_of_day" selected>' in form
    assert f'<details class="mt-2" open><summary>Edit step {wait.position}</summary>' in page.text
    wait.refresh_from_db()
    assert wait.config["mode"] == "duration"


def test_only_editors_of_the_account_change_a_wait_steps_mode(viewer_client, outsider_client, flow, wait):
    edit, fields = edit_urls(flow, wait)
    data = {"mode": "time_of_day", "time": "09:30"}
    assert viewer_client.post(edit, data).status_code == 403
    assert viewer_client.get(fields, {"mode": "time_of_day"}).status_code == 403
    assert outsider_client.post(edit, data).status_code == 404
    assert outsider_client.get(fields, {"mode": "time_of_day"}).status_code == 404
    wait.refresh_from_db()
    assert wait.config["mode"] == "duration"


def test_only_a_wait_step_has_mode_fields(owner_client, flow):
    exit_step = flows.flow_step_add(flow=flow, kind=StepKind.EXIT, config={})
    _, fields = edit_urls(flow, exit_step)
    assert owner_client.get(fields, {"mode": "time_of_day"}).status_code == 400


def test_a_send_step_previews_its_message_for_the_first_person_of_the_audience(
    owner_client, viewer_client, outsider_client, flow
):
    url = reverse("communications:flow_step_preview", args=[flow.pk])
    form = owner_client.get(fields_url(flow), {"kind": "send"}, HTTP_HX_REQUEST="true").text
    assert f'hx-post="{url}" hx-include="closest form"' in form
    data = {"channel": "SMS", "text": "Hi {{ first_name }}!", "prefix": "new"}
    response = owner_client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "<html" not in response.text
    assert 'id="new-preview"' in response.text and "For <strong>Ana" in response.text
    assert "Hi Ana!" in response.text and 'data-testid="sms-length"' in response.text
    refused = owner_client.post(url, {"channel": "SMS", "text": "Hi {% load static %}", "prefix": "7"})
    assert 'data-testid="preview-error"' in refused.text and 'id="7-preview"' in refused.text
    assert viewer_client.post(url, data).status_code == 403
    assert outsider_client.post(url, data).status_code == 404
