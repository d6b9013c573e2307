// ServiFlow's pages: the little script they need, served from this host (the
// Content-Security-Policy allows no inline script and no on* attributes).

// <form data-confirm="Delete X?">: ask before submitting.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
