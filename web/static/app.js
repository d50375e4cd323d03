// procfin's only script: progressive enhancement, the pages work without it.
// A page region marked data-refresh="N" reloads every N seconds while its
// application is still moving (the server stops marking it when final).
(function () {
  "use strict";
  // A confirmation (?ok=...) shows once: reloads do not repeat it.
  if (/[?&]ok=/.test(window.location.search) && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }
  var live = document.querySelector("[data-refresh]");
  if (live) {
    var seconds = parseInt(live.getAttribute("data-refresh"), 10) || 5;
    setTimeout(function () {
      if (!document.querySelector("form :focus")) { window.location.reload(); }
      else { setTimeout(arguments.callee, seconds * 1000); }
    }, seconds * 1000);
  }
  // The apply form's consent shows the statement of the bank chosen only.
  var bank = document.getElementById("bank_id");
  var statements = document.querySelectorAll("#consent [data-bank]");
  if (bank && statements.length) {
    var show = function () {
      for (var i = 0; i < statements.length; i++) {
        statements[i].hidden = statements[i].getAttribute("data-bank") !== bank.value;
      }
    };
    bank.addEventListener("change", show);
    show();
  }
  // A submitted form's button is disabled, so a double click sends it once.
  document.addEventListener("submit", function (e) {
    var b = e.target.querySelector("button[type=submit]");
    if (b) { setTimeout(function () { b.disabled = true; }, 0); }
  });
})();
