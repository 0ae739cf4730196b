// Communications: on "Add to flow", show only the field of the chosen target (new or existing).
(function () {
  "use strict";

  function update(form) {
    const chosen = form.querySelector('input[name="target"]:checked');
    form.querySelectorAll("[data-flow-target]").forEach(function (block) {
      block.hidden = !chosen || block.dataset.flowTarget !== chosen.value;
    });
  }

  document.addEventListener("change", function (event) {
    const form = event.target.closest("form[data-flow-choice]");
    if (form && event.target.name === "target") update(form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-flow-choice]").forEach(update);
  });
})();
