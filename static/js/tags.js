// Tags screen: "Delete selected" is enabled only while a tag is ticked.
(function () {
  "use strict";

  // Progress bars: the width comes from data-percent (no inline styles under the CSP).
  function bars() {
    document.querySelectorAll(".progress-bar[data-percent]").forEach(function (bar) {
      bar.style.width = Math.max(0, Math.min(100, Number(bar.dataset.percent) || 0)) + "%";
    });
  }

  function refresh() {
    bars();
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
