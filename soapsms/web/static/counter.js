/* The send form's live character and part counter. The alphabet and limits
   come from the server (data-alphabet, from soapsms/domain/encoding.py), so
   this file holds only the counting: GSM-7 extension characters take two
   septets and, like UCS-2 surrogate pairs, are never split across parts. */
(function () {
  "use strict";

  function parts(units, single, per) {
    // units: the size of each character, in septets or UTF-16 code units.
    var total = units.reduce(function (a, b) { return a + b; }, 0);
    if (total <= single) { return { total: total, parts: total ? 1 : 0 }; }
    var count = 1, used = 0;
    units.forEach(function (u) {
      if (used + u > per) { count += 1; used = 0; }
      used += u;
    });
    return { total: total, parts: count };
  }

  function count(text, rules, forced) {
    var chars = Array.from(text);
    var basic = rules.basic, ext = rules.extension;
    var offending = chars.find(function (c) { return basic.indexOf(c) < 0 && ext.indexOf(c) < 0; });
    if (forced === "GSM7" && offending !== undefined) {
      return { error: "GSM7 cannot carry \u201c" + offending + "\u201d" };
    }
    if (forced === "UCS2" || offending !== undefined) {
      var r = parts(chars.map(function (c) { return c.length; }), rules.ucs2[0], rules.ucs2[1]);
      r.encoding = "UCS-2"; r.unit = "UTF-16 units";
      return r;
    }
    var g = parts(chars.map(function (c) { return ext.indexOf(c) >= 0 ? 2 : 1; }), rules.gsm7[0], rules.gsm7[1]);
    g.encoding = "GSM-7"; g.unit = "septets";
    return g;
  }

  function start() {
    var text = document.getElementById("text");
    var out = document.getElementById("counter");
    var forced = document.getElementById("encoding");
    if (!text || !out || !text.dataset.alphabet) { return; }
    var rules = JSON.parse(text.dataset.alphabet);
    function show() {
      var r = count(text.value, rules, forced ? forced.value : "Auto");
      if (r.error) {
        out.textContent = r.error;
        out.classList.add("over");
        return;
      }
      out.textContent = Array.from(text.value).length + " characters, " + r.total + " " + r.unit +
        ": " + r.parts + (r.parts === 1 ? " part" : " parts") + " (" + r.encoding + ")" +
        (r.parts > rules.max_parts ? " \u2014 more than " + rules.max_parts + " parts is refused" : "");
      out.classList.toggle("over", r.parts > rules.max_parts);
    }
    text.addEventListener("input", show);
    if (forced) { forced.addEventListener("change", show); }
    show();
  }

  document.addEventListener("DOMContentLoaded", start);
}());
