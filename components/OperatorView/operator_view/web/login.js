"use strict";
// The token goes into a same-site cookie that this page's requests carry; nothing is sent by the form.
document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = document.getElementById("token").value.trim();
  document.cookie = `smartcam_operator_token=${encodeURIComponent(token)}; path=/; SameSite=Strict`;
  location.reload();
});
