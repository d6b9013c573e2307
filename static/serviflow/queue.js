// The queue's live region (templates/console/_queue.html) polls every few seconds; a poll never
// takes away what the agent is doing: while rows are ticked, "every matching ticket" is chosen
// or a bulk note is being typed, polls are skipped. The "select all" box ticks the page's rows.
(function () {
  "use strict";

  function busy() {
    if (document.querySelector("#queue input[name=ticket]:checked")) return true;
    var matching = document.querySelector("[data-matching]");
    if (matching && matching.checked) return true;
    var note = document.querySelector("[data-bulk-note]");
    if (note && note.value.trim() !== "") return true;
    var bulk = document.getElementById("bulk");
    return Boolean(bulk && bulk.contains(document.activeElement));
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail.elt;
    if (source && source.id === "queue" && source.hasAttribute("data-live") && busy()) {
      event.preventDefault();
    }
  });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.hasAttribute("data-select-all")) return;
    document.querySelectorAll("#queue input[name=ticket]").forEach(function (row) {
      row.checked = box.checked;
    });
  });
})();
