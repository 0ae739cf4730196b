// People list: the selection bar. Rows are checkboxes named "ids" that belong to #bulk-form;
// "Select all N matching" is a checkbox named "all" (value 1) in the summary card. Without
// JavaScript the same form posts the same fields; this only keeps the bar's text and buttons honest.
(function () {
  "use strict";

  function update() {
    const form = document.getElementById("bulk-form");
    if (!form) return;
    const rows = document.querySelectorAll('input[type=checkbox][name="ids"][form="bulk-form"]');
    const matching = document.querySelector("input[data-select-matching]");
    const allMatching = matching && matching.checked;
    let checked = 0;
    rows.forEach(function (box) {
      if (allMatching) box.checked = true;
      box.disabled = !!allMatching;
      if (box.checked) checked += 1;
    });
    const pageBox = document.querySelector('input[data-select-all="ids"]');
    if (pageBox) {
      pageBox.disabled = !!allMatching;
      pageBox.checked = rows.length > 0 && checked === rows.length;
      pageBox.indeterminate = checked > 0 && checked < rows.length;
    }
    const status = form.querySelector("[data-selection-status]");
    if (status) {
      if (allMatching) {
        const count = document.querySelector("[data-count]");
        status.textContent = "All " + (count ? count.textContent : "") + " matching persons selected";
      } else {
        status.textContent = checked ? checked + " selected on this page" : "No rows selected";
      }
    }
    form.querySelectorAll("[data-needs-selection]").forEach(function (button) {
      button.disabled = !(allMatching || checked);
    });
  }

  document.addEventListener("change", function (event) {
    const box = event.target;
    if (box.name === "ids" || box.name === "all" || (box.dataset && box.dataset.selectAll === "ids")) {
      // app.js checks the page's rows for data-select-all; let it run first.
      setTimeout(update, 0);
    }
  });
  // The advanced filter was loaded with the quick filters of the page load; the quick filters
  // change in place (htmx), so "Apply filter" and "Save as segment" send the ones on screen now.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const filters = document.getElementById("people-filters");
    if (!filters || !form.closest || !form.closest("#people-advanced-filter")) return;
    form.querySelectorAll("input[data-people-filter]").forEach(function (input) { input.remove(); });
    new FormData(filters).forEach(function (value, key) {
      if (key === "rule" || value === "") return;
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = key;
      input.value = value;
      input.dataset.peopleFilter = "";
      form.appendChild(input);
    });
  }, true);
  // The Tags quick filter (_tag_picker.html): the search box narrows the list without filtering
  // People (its typing stays out of the form's "input" trigger); the summary names the chosen tags;
  // Escape folds the list and gives focus back to its summary.
  function tagSummary(picker) {
    const summary = picker.querySelector("[data-tag-summary]");
    const chosen = Array.from(picker.querySelectorAll("input[type=checkbox]:checked")).map(function (box) {
      return box.value;
    });
    summary.textContent = chosen.length ? chosen.join(", ") : summary.dataset.empty;
  }
  document.addEventListener("input", function (event) {
    const search = event.target;
    if (!search.matches || !search.matches("[data-tag-search]")) return;
    event.stopPropagation();
    const picker = search.closest("[data-tag-picker]");
    const term = search.value.trim().toLowerCase();
    let shown = 0;
    picker.querySelectorAll("[data-tag-option]").forEach(function (option) {
      const match = !term || option.dataset.tagOption.indexOf(term) !== -1;
      option.hidden = !match;
      if (match) shown += 1;
    });
    const none = picker.querySelector("[data-tag-none]");
    if (none) none.hidden = shown > 0;
  }, true);
  document.addEventListener("keydown", function (event) {
    if (event.target.matches && event.target.matches("[data-tag-search]") && event.key === "Enter") {
      event.preventDefault(); // Enter in the search box does not submit the filters
    }
    if (event.key !== "Escape" || !event.target.closest) return;
    const picker = event.target.closest("[data-tag-picker]");
    const details = picker && picker.querySelector("details");
    if (details && details.open) {
      details.open = false;
      details.querySelector("summary").focus();
    }
  });
  document.addEventListener("change", function (event) {
    const picker = event.target.closest && event.target.closest("[data-tag-picker]");
    if (picker) tagSummary(picker);
  });
  // A click outside an open tag list folds it.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("[data-tag-picker] details[open]").forEach(function (details) {
      if (!details.contains(event.target)) details.open = false;
    });
  });
  // The "Columns" menu is part of the list it changes: after the list comes back, open it again
  // with the focus on the box just toggled, so several columns are hidden in a row.
  let columnsFocus = null;
  document.addEventListener("change", function (event) {
    if (event.target.closest && event.target.closest("#people-columns")) columnsFocus = event.target.id;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!columnsFocus) return;
    const box = document.getElementById(columnsFocus);
    columnsFocus = null;
    const menu = document.getElementById("columns-picker");
    if (menu && box) {
      menu.open = true;
      box.focus();
    }
  });
  document.addEventListener("selection-changed", update);
  document.addEventListener("htmx:afterSettle", update);
  document.addEventListener("DOMContentLoaded", update);
})();
