// Audience: the little JavaScript the pages need. No inline scripts: the CSP forbids them.
(function () {
  "use strict";

  // Confirmations for destructive actions: <form data-confirm="Delete 3 profiles?"> or
  // <button data-confirm="…"> inside a form. Without JavaScript the form posts to a confirm page.
  let pending = null;
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const submitter = event.submitter;
    const text = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    if (!text || form.dataset.confirmed === "1") return;
    event.preventDefault();
    pending = { form: form, submitter: submitter };
    document.getElementById("confirm-modal-body").textContent = text;
    bootstrap.Modal.getOrCreateInstance(document.getElementById("confirm-modal")).show();
  }, true);

  document.addEventListener("click", function (event) {
    if (event.target.id !== "confirm-modal-ok" || !pending) return;
    const { form, submitter } = pending;
    pending = null;
    bootstrap.Modal.getInstance(document.getElementById("confirm-modal")).hide();
    form.dataset.confirmed = "1";
    if (form.requestSubmit) form.requestSubmit(submitter || undefined); else form.submit();
    form.dataset.confirmed = "";
  });

  // htmx requests that need a confirmation use hx-confirm; show it in the same modal.
  document.addEventListener("htmx:confirm", function (event) {
    if (!event.detail.question) return;
    event.preventDefault();
    document.getElementById("confirm-modal-body").textContent = event.detail.question;
    const modal = bootstrap.Modal.getOrCreateInstance(document.getElementById("confirm-modal"));
    const ok = document.getElementById("confirm-modal-ok");
    const onOk = function () { ok.removeEventListener("click", onOk); modal.hide(); event.detail.issueRequest(true); };
    ok.addEventListener("click", onOk);
    modal.show();
  });

  // "Select all on this page" checkboxes: <input type="checkbox" data-select-all="name">.
  document.addEventListener("change", function (event) {
    const box = event.target;
    if (box.dataset && box.dataset.selectAll) {
      document.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]')
        .forEach(function (item) { item.checked = box.checked; });
      box.dispatchEvent(new CustomEvent("selection-changed", { bubbles: true }));
    }
  });

  // Progress bars of jobs: the width comes from data-percent (no inline styles under the CSP).
  function progressBars() {
    document.querySelectorAll(".progress-bar[data-percent]").forEach(function (bar) {
      bar.style.width = Math.max(0, Math.min(100, Number(bar.dataset.percent) || 0)) + "%";
    });
  }
  document.addEventListener("DOMContentLoaded", progressBars);
  document.addEventListener("htmx:afterSwap", progressBars);
})();
