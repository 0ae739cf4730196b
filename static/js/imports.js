// Imports: the mapping step. "Add new field" shows its name and type; × undoes a column's mapping.
(function () {
  "use strict";
  function sync(select) {
    const box = document.querySelector('[data-new-field="' + select.id + '"]');
    if (box) box.classList.toggle("d-none", select.value !== "__new__");
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-mapping-select]")) sync(event.target);
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-mapping-undo]");
    if (!button) return;
    const select = document.getElementById(button.dataset.mappingUndo);
    if (select) { select.value = ""; sync(select); select.focus(); }
  });
})();
