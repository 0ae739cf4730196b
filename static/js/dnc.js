// Do Not Contact screen: "Add filter", several values in one filter, cancelling the new line.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    const show = event.target.closest("[data-dnc-filter]");
    if (show) {
      const group = document.getElementById("filter-" + show.dataset.dncFilter);
      if (group) {
        group.classList.remove("d-none");
        const input = group.querySelector("input");
        if (input) input.focus();
      }
      return;
    }
    const more = event.target.closest("[data-dnc-more]");
    if (more) {
      const input = document.createElement("input");
      input.className = "form-control form-control-sm w-auto";
      input.name = more.dataset.dncMore;
      input.setAttribute("aria-label", more.closest("fieldset").querySelector("legend").textContent.trim());
      more.before(input);
      input.focus();
      return;
    }
    const cancel = event.target.closest("[data-dnc-cancel]");
    if (cancel && cancel.closest("#dnc-new-row")) {
      event.preventDefault();
      const row = document.createElement("tr");
      row.id = "dnc-new-row";
      row.className = "d-none";
      cancel.closest("#dnc-new-row").replaceWith(row);
    }
  });

  // The new line: put the cursor in it when it appears (or comes back with an error).
  document.addEventListener("htmx:afterSwap", function () {
    const input = document.querySelector("#dnc-new-row input[name='new-contact']");
    if (input && !input.value) input.focus();
    const invalid = document.querySelector("#dnc-new-row .is-invalid");
    if (invalid) invalid.focus();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && event.target.closest && event.target.closest("#dnc-new-row")) {
      const cancel = document.querySelector("#dnc-new-row [data-dnc-cancel]");
      if (cancel) cancel.click();
    }
    // Enter in the new line saves it through htmx rather than posting the whole page.
    if (event.key === "Enter" && event.target.closest && event.target.closest("#dnc-new-row") && event.target.tagName === "INPUT") {
      event.preventDefault();
      const save = document.querySelector("#dnc-new-row button[hx-post]");
      if (save) save.click();
    }
  });
})();

// Filters: leave out the empty inputs of filters not in use, so the address stays readable.
document.addEventListener("htmx:configRequest", function (event) {
  if (!event.detail.elt || event.detail.elt.id !== "dnc-filters") return;
  const data = event.detail.formData;
  if (!data) return;
  Array.from(new Set(Array.from(data.keys()))).forEach(function (key) {
    const values = data.getAll(key).filter(function (value) { return value !== ""; });
    data.delete(key);
    values.forEach(function (value) { data.append(key, value); });
  });
});
