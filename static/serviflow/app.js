// ServiFlow's pages: the little script they need, served from this host (the
// Content-Security-Policy allows no inline script and no on* attributes).

// <form data-confirm="Delete X?">: ask before submitting.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// Refusals a form shows in place (data-swap-refusals: the ticket's side panel): htmx swaps a
// 4xx answer of such a form like a success, so the refusal appears inside the panel and the page
// stays (every other 4xx leaves the page alone, templates/base.html's htmx-config). With DEBUG,
// django-htmx's script would replace the whole page by the answer (its error display): such an
// answer is not an error to show, so it never reaches that listener (window, capture phase).
const refusalShownInPlace = (event) => {
  const status = event.detail.xhr ? event.detail.xhr.status : 0;
  const asked = [event.target, event.detail.target, event.detail.requestConfig && event.detail.requestConfig.elt];
  const opted = asked.some((elt) => elt instanceof Element && elt.closest("[data-swap-refusals]"));
  return status >= 400 && status < 500 && opted;
};
window.addEventListener(
  "htmx:beforeOnLoad",
  (event) => {
    if (refusalShownInPlace(event)) event.stopPropagation();
  },
  true,
);
document.addEventListener("htmx:beforeSwap", (event) => {
  if (refusalShownInPlace(event)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// A live page (serviflow.live) never replaces a form the person has started to change
// (data-live-keep): its save carries what it saw and is refused if it is stale.
const markDirty = (event) => {
  const form = event.target instanceof Element && event.target.closest("form[data-live-keep]");
  if (form) form.dataset.dirty = "true";
};
document.addEventListener("change", markDirty);
document.addEventListener("input", markDirty);
document.addEventListener("htmx:oobBeforeSwap", (event) => {
  const target = event.detail.target;
  if (target instanceof Element && target.querySelector("form[data-live-keep][data-dirty]")) {
    event.detail.shouldSwap = false;
  }
});

// Keyboard shortcuts (the help dialog in templates/base.html lists them): / search, j/k move
// among [data-row] rows, o or Enter open the row's [data-open] link, a assign to me (the row's
// or the page's [data-assign-me] form), r reply, ? help. Never while typing or with a modifier.
const shortcuts = (() => {
  let current = null;
  let currentKey = null;
  const typing = (el) =>
    el instanceof HTMLElement &&
    (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  const rows = () => Array.from(document.querySelectorAll("[data-row]"));
  const live = () => {
    // A live region may have replaced the row: find it again by its key.
    if (current && !current.isConnected) {
      current = currentKey === null ? null : document.querySelector(`[data-row="${CSS.escape(currentKey)}"]`);
      if (current) mark(current);
    }
    return current;
  };
  const mark = (row) => {
    document.querySelectorAll(".current-row").forEach((el) => {
      el.classList.remove("current-row");
      el.removeAttribute("aria-current");
    });
    current = row;
    currentKey = row ? row.getAttribute("data-row") : null;
    if (row) {
      row.classList.add("current-row");
      row.setAttribute("aria-current", "true");
      row.scrollIntoView({ block: "nearest" });
    }
  };
  const move = (step) => {
    const all = rows();
    if (!all.length) return;
    let index = all.indexOf(live());
    if (index < 0) index = step > 0 ? -1 : all.length;
    mark(all[Math.min(all.length - 1, Math.max(0, index + step))]);
  };
  const submit = (form) => (form.requestSubmit ? form.requestSubmit() : form.submit());
  const focus = (selector) => {
    const el = document.querySelector(selector);
    if (!el) return false;
    el.focus();
    return true;
  };
  return (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey || event.defaultPrevented) return;
    const help = document.getElementById("shortcuts-help");
    if (help && help.open) return; // the dialog closes itself on Escape
    if (typing(event.target)) return;
    let done = false;
    switch (event.key) {
      case "/":
        done = focus('[data-shortcut="search"]');
        break;
      case "j":
        move(1);
        done = true;
        break;
      case "k":
        move(-1);
        done = true;
        break;
      case "Enter":
        if (event.target !== document.body && !(event.target instanceof Element && event.target.matches("[data-row]"))) return;
      // falls through: Enter on the page opens the current row
      case "o": {
        const row = live();
        const link = row && (row.matches("[data-open]") ? row : row.querySelector("[data-open]"));
        if (link) {
          link.click();
          done = true;
        }
        break;
      }
      case "a": {
        const row = live();
        const form = row
          ? row.querySelector("form[data-assign-me]")
          : rows().length
            ? null
            : document.querySelector("form[data-assign-me]");
        if (form) {
          submit(form);
          done = true;
        }
        break;
      }
      case "r":
        done = focus('[data-shortcut="reply"]');
        break;
      case "?":
        if (help) {
          help.showModal();
          done = true;
        }
        break;
      default:
        return;
    }
    if (done) event.preventDefault();
  };
})();
document.addEventListener("keydown", shortcuts);

// <a data-print>: print the page (the access review; its print CSS keeps only the document).
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("[data-print]") : null;
  if (link) {
    event.preventDefault();
    window.print();
  }
});
