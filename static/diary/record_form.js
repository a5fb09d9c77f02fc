/* The diary record form: registry pickers (search people, households and places in the user's scope
   and keep their ids in the field, shown as chips) and the fields each kind of record uses. Without
   JavaScript the ids can be typed into the fields. */
(function () {
  "use strict";
  var form = document.getElementById("record-form");
  if (!form) return;
  var CFG = JSON.parse(document.getElementById("form-config").textContent || "{}");
  var LABELS = JSON.parse(document.getElementById("picker-labels").textContent || "{}");
  var S = CFG.strings || {};
  var LOOKUP = form.dataset.lookup;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function picker(input) {
    var type = input.dataset.picker, chosen = [];
    var known = {};
    (LABELS[input.name] || []).forEach(function (row) { known[row.id] = row.label; });
    input.value.split(/[\s,，、;；]+/).forEach(function (v) {
      if (/^\d+$/.test(v) && chosen.indexOf(+v) < 0) chosen.push(+v);
    });
    input.type = "hidden";
    var box = el("div", "picker"), chips = el("div", "chips"), search = el("input", "picker-search");
    var results = el("ul", "picker-results");
    search.type = "search"; search.placeholder = S.search || ""; search.autocomplete = "off";
    search.id = input.id + "-search"; search.setAttribute("aria-label", S.search || "");
    results.setAttribute("role", "listbox");
    box.appendChild(chips); box.appendChild(search); box.appendChild(results);
    input.parentNode.insertBefore(box, input.nextSibling);

    function sync() {
      input.value = chosen.join(",");
      chips.innerHTML = "";
      chosen.forEach(function (id) {
        var chip = el("span", "chip", known[id] || ("#" + id));
        chip.dataset.id = id;
        var x = el("button", "chip-remove", "×");
        x.type = "button"; x.title = S.remove || ""; x.setAttribute("aria-label", (S.remove || "") + " " + (known[id] || id));
        x.addEventListener("click", function () { chosen = chosen.filter(function (c) { return c !== id; }); sync(); });
        chip.appendChild(x);
        chips.appendChild(chip);
      });
    }
    var timer = null, seq = 0;
    search.addEventListener("input", function () {
      clearTimeout(timer);
      var q = search.value.trim();
      if (!q) { results.innerHTML = ""; return; }
      timer = setTimeout(function () {
        var mine = ++seq;
        results.innerHTML = ""; results.appendChild(el("li", "muted", S.searching || ""));
        fetch(LOOKUP + "?type=" + encodeURIComponent(type) + "&q=" + encodeURIComponent(q), {
          credentials: "same-origin", headers: {"Accept": "application/json"}
        }).then(function (r) { return r.json(); }).then(function (body) {
          if (mine !== seq) return;
          results.innerHTML = "";
          var rows = body.results || [];
          if (!rows.length) results.appendChild(el("li", "muted", S.none || ""));
          rows.forEach(function (row) {
            var li = el("li"), b = el("button", "pick", row.label);
            b.type = "button"; b.dataset.id = row.id; b.setAttribute("role", "option");
            if (row.detail) b.appendChild(el("span", "small muted", " " + row.detail));
            b.addEventListener("click", function () {
              known[row.id] = row.label;
              if (chosen.indexOf(row.id) < 0) chosen.push(row.id);
              search.value = ""; results.innerHTML = ""; sync(); search.focus();
            });
            li.appendChild(b); results.appendChild(li);
          });
        }).catch(function () { if (mine === seq) { results.innerHTML = ""; results.appendChild(el("li", "error", S.failed || "")); } });
      }, 250);
    });
    search.addEventListener("keydown", function (e) { if (e.key === "Enter") e.preventDefault(); });
    sync();
  }
  Array.prototype.forEach.call(form.querySelectorAll("input[data-picker]"), picker);

  // The fields a kind of record uses: attendees for meetings, severity for disputes and hazards,
  // mood for visits, public sentiment and party situation.
  var kind = form.querySelector("[name=kind]");
  function wrap(name) { var f = form.querySelector(".field[data-name='" + name + "']"); return f; }
  function toggle() {
    var k = kind.value;
    var show = {
      attendees: (CFG.meetingKinds || []).indexOf(k) >= 0,
      attendee_names: (CFG.meetingKinds || []).indexOf(k) >= 0,
      severity: (CFG.severityKinds || []).indexOf(k) >= 0,
      mood: (CFG.moodKinds || []).indexOf(k) >= 0
    };
    Object.keys(show).forEach(function (name) {
      var f = wrap(name);
      if (!f) return;
      var field = form.querySelector("[name=" + name + "]");
      var hasValue = field && field.value;
      f.hidden = !show[name] && !hasValue && !!k;  // a value the author gave stays visible (the service names it)
    });
  }
  if (kind) { kind.addEventListener("change", toggle); toggle(); }
})();
