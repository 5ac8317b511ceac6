// Progressive enhancement only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Delete and other dangerous actions ask first.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // The account form shows the fields of the chosen account type (PGSM or SNOM).
  const type = document.getElementById("f-account_type");
  if (type) {
    const sync = () => {
      for (const set of document.querySelectorAll("fieldset[data-for-type]")) {
        const active = set.dataset.forType === type.value;
        set.hidden = !active;
        set.disabled = !active;
      }
    };
    type.addEventListener("change", sync);
    sync();
  }
});
