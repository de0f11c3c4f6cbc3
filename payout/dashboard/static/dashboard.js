// Progressive enhancement only: every page works without JavaScript.
// On the failed/skipped page, a "select all" checkbox for the retry form.
document.addEventListener("DOMContentLoaded", () => {
  const boxes = Array.from(document.querySelectorAll('input[type="checkbox"][name="row"]'));
  const button = document.getElementById("retry");
  if (!boxes.length || !button) return;
  const label = document.createElement("label");
  label.className = "select-all";
  const all = document.createElement("input");
  all.type = "checkbox";
  all.id = "select-all";
  label.append(all, " Select all retryable rows");
  button.parentElement.prepend(label);
  all.addEventListener("change", () => boxes.forEach((b) => { b.checked = all.checked; }));
});
