// "Show password": a checkbox names the password field it reveals (data-show-password).
// Without JavaScript the checkbox is hidden and the field stays a password field.
(function () {
  "use strict";

  document.querySelectorAll("[data-show-password]").forEach(function (box) {
    var field = document.getElementById(box.getAttribute("data-show-password"));
    if (!field) return;
    box.closest("label").hidden = false;
    box.addEventListener("change", function () {
      field.type = box.checked ? "text" : "password";
    });
    // Never submit a shown password as text a browser might offer to remember as a username.
    field.form.addEventListener("submit", function () {
      field.type = "password";
    });
  });
})();
