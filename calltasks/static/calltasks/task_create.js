/* Live count of the leads matching the task-creation form (admin add page of call tasks).
 * Sends the form's fields to the count endpoint (data-count-url) 300 ms after the last change and shows
 * the numbers in #lead-count and #lead-callable. No dependencies. */
(function () {
  "use strict";

  function init() {
    var form = document.getElementById("task-create-form");
    if (!form || !window.fetch) { return; }
    var url = form.getAttribute("data-count-url");
    var countEl = document.getElementById("lead-count");
    var callableEl = document.getElementById("lead-callable");
    var errorEl = document.getElementById("lead-count-error");
    var box = document.getElementById("lead-count-box");
    var timer = null;
    var controller = null;
    var sequence = 0;

    function query() {
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, key) {
        if (key === "csrfmiddlewaretoken" || typeof value !== "string") { return; }
        params.append(key, value);
      });
      return params.toString();
    }

    function refresh() {
      var mine = ++sequence;
      if (controller) { controller.abort(); }
      controller = window.AbortController ? new AbortController() : null;
      box.classList.add("busy");
      box.setAttribute("data-state", "loading");
      fetch(url + "&" + query(), {
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-Requested-With": "XMLHttpRequest" },
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (result) {
        if (mine !== sequence) { return; }
        if (result.ok) {
          countEl.textContent = String(result.body.count);
          callableEl.textContent = String(result.body.callable);
          errorEl.textContent = "";
        } else {
          countEl.textContent = "-";
          callableEl.textContent = "-";
          var messages = [];
          Object.keys(result.body.errors || {}).forEach(function (key) {
            messages = messages.concat(result.body.errors[key]);
          });
          errorEl.textContent = messages.join(" ");
        }
        box.classList.remove("busy");
        box.setAttribute("data-state", "ready");
      }).catch(function (error) {
        if (error && error.name === "AbortError") { return; }
        if (mine === sequence) {
          box.classList.remove("busy");
          box.setAttribute("data-state", "error");
        }
      });
    }

    function schedule(event) {
      var name = event.target && event.target.name;
      if (name === "task_name" || name === "script_id" || name === "auto_start") { return; }
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(refresh, 300);
    }

    form.addEventListener("change", schedule);
    form.addEventListener("input", schedule);
    box.setAttribute("data-state", "ready");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
