// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // A select marked data-autosubmit submits its form on change (tenant switcher).
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el && el.matches && el.matches("select[data-autosubmit]") && el.form) {
      el.form.submit();
    }
  });
  // The offline indicator: shown while the browser has no network.
  function offline() {
    var banner = document.getElementById("offline");
    if (banner) banner.hidden = navigator.onLine;
  }
  window.addEventListener("online", offline);
  window.addEventListener("offline", offline);
  document.addEventListener("DOMContentLoaded", offline);
})();
