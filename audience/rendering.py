"""The project's form renderer (settings.FORM_RENDERER): Bootstrap classes on every widget and one
field template, so a form needs no styling code of its own.

- A widget gets `form-select` (selects), `form-check-input` (checkboxes, and each option of radio
  and checkbox lists) or `form-control` (everything else but hidden inputs), unless the form gave
  it a class of its own (a size, a monospace font).
- A widget whose field has errors gets `is-invalid`: Django marks it `aria-invalid="true"` and
  points `aria-describedby` at `<id>_error` and `<id>_helptext`, which `forms/field.html` renders.
- `{{ form.field.as_field_group }}` renders `forms/field.html`: label (with the required mark),
  widget, errors, help text.
"""

from __future__ import annotations

from typing import Any

from django.forms.renderers import TemplatesSetting

_OPTION_LISTS = {"django/forms/widgets/radio.html", "django/forms/widgets/checkbox_select.html"}
_CLASSES = {
    "django/forms/widgets/select.html": "form-select",
    "django/forms/widgets/checkbox.html": "form-check-input",
}


def _add_class(attrs: dict[str, Any], css: str) -> None:
    classes = attrs.get("class", "").split()
    if css not in classes:
        attrs["class"] = " ".join([*classes, css])


def _style(attrs: dict[str, Any], css: str) -> None:
    if not attrs.get("class"):
        attrs["class"] = css
    if attrs.get("aria-invalid") == "true":
        _add_class(attrs, "is-invalid")


def widget_style(widget: dict[str, Any]) -> None:
    """Put the Bootstrap classes on a widget's render context (a fresh copy of its attrs)."""
    template_name = widget.get("template_name", "")
    if template_name in _OPTION_LISTS:
        for _group, options, _index in widget.get("optgroups", []):
            for option in options:
                _style(option["attrs"], "form-check-input")
        return
    if widget.get("type") == "hidden":
        return
    _style(widget["attrs"], _CLASSES.get(template_name, "form-control"))


class BootstrapFormRenderer(TemplatesSetting):
    field_template_name = "forms/field.html"

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        widget = context.get("widget")
        if isinstance(widget, dict) and isinstance(widget.get("attrs"), dict):
            widget_style(widget)
        return super().render(template_name, context, request)
