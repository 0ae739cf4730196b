from __future__ import annotations

from django.core.cache import cache

from audience import services


def test_the_broadcast_form_previews_the_message_as_you_type(page, marketer):
    account, _ = marketer
    ana = services.profile_create(account=account, fields={"first_name": "Ana"}, phones=["+385912345678"])
    cache.clear()
    page.goto(f"/communications/broadcasts/new/?channel=SMS&selection=%7B%22ids%22%3A%5B{ana.pk}%5D%7D")
    page.get_by_label("Message").fill('Hi {{ first_name|default:"there" }} €')
    preview = page.get_by_test_id("preview")
    preview.wait_for()
    page.wait_for_function("document.querySelector('[data-testid=preview]').innerText.includes('Hi Ana €')")
    assert "9 characters · 1 part · GSM-7"  # € counts two in page.get_by_test_id("sms-length").inner_text()
    page.get_by_label("Message").fill("Hi {{ first_name|safe }}")
    page.get_by_test_id("preview-error").wait_for()
    assert "Invalid filter" in page.get_by_test_id("preview-error").inner_text()
