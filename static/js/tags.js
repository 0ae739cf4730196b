// Tags screen: "Delete selected" is enabled only while a tag is ticked.
(function () {
  "use strict";

  function refresh() {
    document.querySelectorAll("[data-needs-tag-selection]").forEach(function (button) {
      const form = button.form;
      button.disabled = !form || !form.querySelector('input[type=checkbox][name="ids"]:checked');
    });
  }

  document.addEventListener("change", refresh);
  document.addEventListener("selection-changed", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
})();
