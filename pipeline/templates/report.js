(function () {
  "use strict";
  // Every piece of corpus text goes into the page through textContent, never as HTML.
  var data = JSON.parse(document.getElementById("report-data").textContent);

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  // ---------------------------------------------------------------- sortable tables
  function cellValue(cell, numeric) {
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent;
    if (!numeric) { return raw.toLowerCase(); }
    var value = parseFloat(raw);
    return isNaN(value) ? null : value;
  }

  function makeSortable(table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, column) {
      if (!th.hasAttribute("data-sort")) { return; }
      th.addEventListener("click", function () {
        var numeric = th.getAttribute("data-sort") === "number";
        var ascending = !th.classList.contains("sorted-asc");
        Array.prototype.forEach.call(headers, function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(ascending ? "sorted-asc" : "sorted-desc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var v1 = cellValue(r1.cells[column], numeric), v2 = cellValue(r2.cells[column], numeric);
          if (v1 === v2) { return 0; }
          if (v1 === null) { return 1; }  // no score: always last
          if (v2 === null) { return -1; }
          return (v1 < v2 ? -1 : 1) * (ascending ? 1 : -1);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);

  // ---------------------------------------------------------------- word-level diff
  var TOKEN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]|[\p{L}\p{N}\p{M}]+|\s+|[^\s]/gu;
  var MAX_CELLS = 250000;  // longer pairs are shown without a diff

  function tokens(text) { return text.match(TOKEN) || []; }

  // Longest common subsequence of tokens: marks[i] is true when a[i] is kept.
  function diff(a, b) {
    var n = a.length, m = b.length, i, j;
    var keepA = new Array(n).fill(false), keepB = new Array(m).fill(false);
    if (n * m > MAX_CELLS) { return null; }
    var table = [];
    for (i = 0; i <= n; i++) { table.push(new Uint16Array(m + 1)); }
    for (i = n - 1; i >= 0; i--) {
      for (j = m - 1; j >= 0; j--) {
        table[i][j] = a[i] === b[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
      }
    }
    i = 0; j = 0;
    while (i < n && j < m) {
      if (a[i] === b[j]) { keepA[i] = true; keepB[j] = true; i++; j++; }
      else if (table[i + 1][j] >= table[i][j + 1]) { i++; }
      else { j++; }
    }
    return [keepA, keepB];
  }

  function fillDiff(node, parts, keep, tag) {
    parts.forEach(function (part, k) {
      if (keep[k] || /^\s+$/.test(part)) { node.appendChild(document.createTextNode(part)); }
      else { node.appendChild(el(tag, null, part)); }
    });
  }

  // ---------------------------------------------------------------- sentence browser
  var controls = {
    testset: document.getElementById("b-testset"),
    a: document.getElementById("b-a"),
    b: document.getElementById("b-b"),
    sort: document.getElementById("b-sort"),
    order: document.getElementById("b-order"),
    filter: document.getElementById("b-filter"),
    differ: document.getElementById("b-differ"),
    more: document.getElementById("b-more")
  };
{% if qe %}
  controls.check = document.getElementById("b-check");
{% endif %}
  var table = document.getElementById("b-table");
  var PAGE = 100;
  var state = { ascending: true, limit: PAGE };

  function option(select, value, label) {
    var node = el("option", null, label);
    node.value = String(value);
    select.appendChild(node);
  }

  data.testsets.forEach(function (ts, index) { option(controls.testset, index, ts.label); });

  function current() { return data.testsets[Number(controls.testset.value)]; }

  function fillSystems() {
    var ts = current();
    [controls.a, controls.b].forEach(function (select) {
      while (select.firstChild) { select.removeChild(select.firstChild); }
      ts.systems.forEach(function (system, index) { option(select, index, system.name); });
    });
    var base = ts.systems.findIndex(function (s) { return s.name === data.baseline; });
    var a = base >= 0 ? base : 0;
    controls.a.value = String(a);
    controls.b.value = String(ts.systems.length > 1 ? (a === 0 ? 1 : 0) : a);
    var notes = document.getElementById("b-notes");
    while (notes.firstChild) { notes.removeChild(notes.firstChild); }
    ts.notes.forEach(function (note) { notes.appendChild(el("li", null, note)); });
{% if qe %}
    fillQuality(ts);
{% endif %}
  }

  function fmt(value) { return value === null || value === undefined ? "—" : value.toFixed(1); }

  function rowsOf(ts) {
    var a = ts.systems[Number(controls.a.value)], b = ts.systems[Number(controls.b.value)];
    var rows = [];
    for (var i = 0; i < ts.sources.length; i++) {
      var scores = ts.systems.map(function (s) { return s.chrf ? s.chrf[i] : null; });
      var known = scores.filter(function (v) { return v !== null; });
      rows.push({
        index: i,
        mean: known.length ? known.reduce(function (x, y) { return x + y; }, 0) / known.length : null,
        a: a && a.chrf ? a.chrf[i] : null,
        b: b && b.chrf ? b.chrf[i] : null,
        delta: a && b && a.chrf && b.chrf ? b.chrf[i] - a.chrf[i] : null
      });
{% if qe %}
      addQuality(rows[rows.length - 1], ts, i);
{% endif %}
    }
    return rows;
  }

  function matches(ts, i, needle) {
    if (!needle) { return true; }
    if (ts.sources[i].toLowerCase().indexOf(needle) >= 0) { return true; }
    var inRef = ts.references.some(function (stream) { return stream[i].toLowerCase().indexOf(needle) >= 0; });
    return inRef || ts.systems.some(function (s) { return s.hyps[i].toLowerCase().indexOf(needle) >= 0; });
  }

  function line(kind, who, score, text) {
    var node = el("div", "line " + kind);
    node.appendChild(el("span", "who", who));
    node.appendChild(el("span", "score", score));
    var body = el("span", "text");
    if (typeof text === "string") { body.textContent = text; } else { body.appendChild(text); }
    node.appendChild(body);
    return node;
  }

  function scoreCell(value, signed) {
    var cell = el("td", null, value === null ? "—" : (signed && value > 0 ? "+" : "") + fmt(value));
    if (value !== null && signed) { cell.className = value < 0 ? "low" : value > 0 ? "high" : ""; }
    return cell;
  }

  function render() {
    var ts = current();
    var ia = Number(controls.a.value), ib = Number(controls.b.value);
    var key = controls.sort.value, sign = state.ascending ? 1 : -1;
    var needle = controls.filter.value.trim().toLowerCase();
    var rows = rowsOf(ts).filter(function (row) {
      if (controls.differ.checked && ts.systems[ia] && ts.systems[ib] &&
          ts.systems[ia].hyps[row.index] === ts.systems[ib].hyps[row.index]) { return false; }
{% if qe %}
      if (controls.check.checked && !row.check) { return false; }
{% endif %}
      return matches(ts, row.index, needle);
    });
    rows.sort(function (r1, r2) {
      var v1 = r1[key], v2 = r2[key];
      if (v1 === v2) { return r1.index - r2.index; }
      if (v1 === null) { return 1; }
      if (v2 === null) { return -1; }
      return (v1 - v2) * sign;
    });

    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.classList.remove("sorted-asc", "sorted-desc");
      if (th.getAttribute("data-key") === key) { th.classList.add(state.ascending ? "sorted-asc" : "sorted-desc"); }
    });
    controls.order.textContent = state.ascending ? "ascending" : "descending";

    var body = el("tbody");
    rows.slice(0, state.limit).forEach(function (row) {
      var i = row.index, tr = el("tr");
      tr.setAttribute("data-index", String(i));
      tr.appendChild(el("td", null, String(i + 1)));
      tr.appendChild(scoreCell(row.mean));
      tr.appendChild(scoreCell(row.a));
      tr.appendChild(scoreCell(row.b));
      tr.appendChild(scoreCell(row.delta, true));
{% if qe %}
      qualityCells(tr, ts, row);
{% endif %}
      var segment = el("td", "segment");
      segment.appendChild(line("source", "source", "", ts.sources[i]));
      ts.references.forEach(function (stream, r) {
        segment.appendChild(line("reference", ts.references.length > 1 ? "reference " + (r + 1) : "reference", "", stream[i]));
      });
      var marks = null;
      if (ia !== ib && ts.systems[ia] && ts.systems[ib]) {
        var ta = tokens(ts.systems[ia].hyps[i]), tb = tokens(ts.systems[ib].hyps[i]);
        var kept = diff(ta, tb);
        if (kept) { marks = { a: [ta, kept[0]], b: [tb, kept[1]] }; }
      }
      ts.systems.forEach(function (system, s) {
        var role = s === ia ? "a" : s === ib ? "b" : "";
        var who = (role ? role.toUpperCase() + ": " : "") + system.name;
        var text = system.hyps[i];
        if (marks && role) {
          text = document.createDocumentFragment();
          fillDiff(text, marks[role][0], marks[role][1], role === "a" ? "del" : "ins");
        }
        segment.appendChild(line("system " + role, who, system.chrf ? fmt(system.chrf[i]) : "", text));
{% if qe %}
        flagLine(segment.lastChild, system, i);
{% endif %}
      });
      tr.appendChild(segment);
      body.appendChild(tr);
    });
    table.replaceChild(body, table.tBodies[0]);
    var shown = Math.min(rows.length, state.limit);
    document.getElementById("b-status").textContent =
      "Showing " + shown + " of " + rows.length + " segments" +
      (rows.length < ts.sources.length ? " (" + ts.sources.length + " before filtering)" : "") + ".";
    controls.more.hidden = rows.length <= state.limit;
  }

{% if qe %}
  // ---------------------------------------------------------------- quality estimates
  // Each system run with qe = true has qe (its estimate per segment), threshold, and check (the
  // segments below the threshold, as report.json marks them): shown, sorted and filtered, never computed.
  function qeKey(s) { return "qe" + s; }

  function fillQuality(ts) {
    var head = table.tHead.rows[0];
    Array.prototype.slice.call(head.querySelectorAll("th.qe")).forEach(function (th) { head.removeChild(th); });
    Array.prototype.slice.call(controls.sort.querySelectorAll("option.qe-system")).forEach(function (o) {
      controls.sort.removeChild(o);
    });
    ts.systems.forEach(function (system, s) {
      if (!system.qe) { return; }
      var th = el("th", "qe", "QE " + system.name);
      th.setAttribute("data-key", qeKey(s));
      th.title = system.name + ": quality estimate; ⚑ below " + system.threshold;
      th.addEventListener("click", function () {
        if (controls.sort.value === qeKey(s)) { state.ascending = !state.ascending; }
        else { controls.sort.value = qeKey(s); state.ascending = true; }
        reset();
      });
      head.insertBefore(th, head.lastElementChild);
      var choice = el("option", "qe-system", "quality estimate of " + system.name);
      choice.value = qeKey(s);
      controls.sort.appendChild(choice);
    });
  }

  function addQuality(row, ts, i) {
    var known = [];
    row.check = false;
    ts.systems.forEach(function (system, s) {
      if (!system.qe) { return; }
      row[qeKey(s)] = system.qe[i];
      if (system.qe[i] !== null) { known.push(system.qe[i]); }
      if (system.check[i]) { row.check = true; }
    });
    row.qe = known.length ? Math.min.apply(null, known) : null;  // the lowest estimate of the segment
  }

  function qeText(value) { return value === null || value === undefined ? "—" : value.toFixed(2); }

  function qualityCells(tr, ts, row) {
    if (row.check) { tr.classList.add("check"); }
    ts.systems.forEach(function (system, s) {
      if (!system.qe) { return; }
      var value = system.qe[row.index], flagged = system.check[row.index];
      var cell = el("td", "qe" + (flagged ? " check" : ""), (flagged ? "⚑ " : "") + qeText(value));
      if (value !== null) {
        cell.title = system.name + ": estimate " + value + (flagged ? ", below " : ", not below ") +
          system.threshold + (flagged ? ": check this segment" : "");
      }
      tr.appendChild(cell);
    });
  }

  function flagLine(node, system, i) {
    if (!system.qe) { return; }
    var flagged = system.check[i];
    var mark = el("span", "qe" + (flagged ? " flag" : ""), (flagged ? "⚑ " : "") + "QE " + qeText(system.qe[i]));
    if (flagged) { node.classList.add("check"); mark.title = "below the threshold " + system.threshold + ": check"; }
    node.appendChild(mark);  // after the text, which stays aligned with the source's and the reference's
  }

  // A quality estimate is sorted lowest first when chosen (before the handler below renders).
  controls.sort.addEventListener("change", function () {
    if (controls.sort.value.indexOf("qe") === 0) { state.ascending = true; }
  });
  controls.check.addEventListener("change", function () { reset(); });

{% endif %}
  function reset() { state.limit = PAGE; render(); }

  if (!data.testsets.length) {
    document.getElementById("b-status").textContent = "No test set to browse.";
    document.body.setAttribute("data-ready", "true");
    return;
  }
  controls.testset.addEventListener("change", function () { fillSystems(); reset(); });
  [controls.a, controls.b, controls.sort, controls.differ].forEach(function (c) { c.addEventListener("change", reset); });
  controls.filter.addEventListener("input", reset);
  controls.order.addEventListener("click", function () { state.ascending = !state.ascending; reset(); });
  controls.more.addEventListener("click", function () { state.limit += PAGE; render(); });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    var key = th.getAttribute("data-key");
    if (!key) { return; }
    th.addEventListener("click", function () {
      if (controls.sort.value === key) { state.ascending = !state.ascending; }
      else { controls.sort.value = key; state.ascending = true; }
      reset();
    });
  });
  fillSystems();
  render();
  document.body.setAttribute("data-ready", "true");
})();
