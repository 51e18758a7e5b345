/* prefdissect report: renders the embedded study data. Untrusted text (queries,
   responses, names) only ever enters the page through textContent or attribute
   setters, never as markup. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var TEXTS = null;
  var SVG = "http://www.w3.org/2000/svg";
  var PALETTE = ["#3056d3", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0b7285", "#a61e4d",
                 "#5c940d", "#d9480f", "#1864ab", "#862e9c", "#e67700"];

  // ---- small helpers -----------------------------------------------------------------
  function el(tag, attrs) {
    var node = document.createElement(tag);
    var key;
    for (key in attrs || {}) {
      if (!Object.prototype.hasOwnProperty.call(attrs, key)) { continue; }
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "class") { node.className = attrs[key]; }
      else if (key.slice(0, 2) === "on") { node.addEventListener(key.slice(2), attrs[key]); }
      else { node.setAttribute(key, attrs[key]); }
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) { continue; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    for (var key in attrs || {}) { node.setAttribute(key, attrs[key]); }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function tip(node, text) { node.appendChild(svg("title", {}, text)); return node; }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } return node; }
  function sigmoid(x) { return 1 / (1 + Math.exp(-x)); }
  function pct(p, digits) { return (100 * p).toFixed(digits === undefined ? 1 : digits) + "%"; }
  function num(x, digits) {
    return (x === null || x === undefined || isNaN(x)) ? "" : Number(x).toFixed(digits);
  }
  function label(name) { return DATA.labels[name] || name; }
  function color(i) { return PALETTE[i % PALETTE.length]; }
  function select(options, value, onchange, id) {
    var node = el("select", {id: id, onchange: function () { onchange(node.value); }});
    options.forEach(function (o) {
      var option = el("option", {value: o.value, text: o.text});
      if (o.value === value) { option.selected = true; }
      node.appendChild(option);
    });
    return node;
  }
  function field(caption, control) { return el("label", {}, caption, control); }
  function table(columns, rows) {
    var head = el("tr");
    columns.forEach(function (c) { head.appendChild(el("th", {text: c.title, class: c.num ? "num" : ""})); });
    var body = el("tbody");
    rows.forEach(function (row) {
      var tr = el("tr");
      columns.forEach(function (c) {
        var value = c.value(row);
        var td = el("td", {class: c.num ? "num" : ""});
        if (value instanceof Node) { td.appendChild(value); } else { td.textContent = value; }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    return el("table", {}, el("thead", {}, head), body);
  }

  // ---- profiles ------------------------------------------------------------------------
  var PROFILE = {};  // judge -> group -> property -> row
  DATA.profiles.forEach(function (r) {
    PROFILE[r.judge] = PROFILE[r.judge] || {};
    PROFILE[r.judge][r.group] = PROFILE[r.judge][r.group] || {};
    PROFILE[r.judge][r.group][r.property] = r;
  });
  var REFERENCE_JUDGES = [];
  DATA.profiles.forEach(function (r) {
    if (r.reference && REFERENCE_JUDGES.indexOf(r.judge) < 0) { REFERENCE_JUDGES.push(r.judge); }
  });
  var ORDER = DATA.properties.map(function (p) { return p.name; });

  // ---- header and tabs -------------------------------------------------------------------
  var meta = DATA.meta;
  document.getElementById("subtitle").textContent = meta.pairs + " pairs from " + meta.source +
    " (" + meta.format + "); judges: " + DATA.judges.join(", ") + "; prefdissect " + meta.version +
    ", " + meta.created;
  var rendered = {};
  function showView(name) {
    Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (b) {
      b.setAttribute("aria-selected", b.getAttribute("data-view") === name ? "true" : "false");
    });
    Array.prototype.forEach.call(document.querySelectorAll(".view"), function (v) {
      v.hidden = v.id !== "view-" + name;
    });
    if (!rendered[name]) { rendered[name] = true; VIEWS[name](); }
  }
  Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (b) {
    b.addEventListener("click", function () { showView(b.getAttribute("data-view")); });
  });

  // ---- dissection view ---------------------------------------------------------------------
  var dissect = {
    group: DATA.groups.length ? DATA.groups[0].name : "all",
    judges: DATA.judges.slice(0, 6),
    reference: [],
    sort: "weight"
  };
  function renderDissectionControls() {
    var box = clear(document.getElementById("dissection-controls"));
    box.appendChild(field("Group", select(DATA.groups.map(function (g) {
      return {value: g.name, text: g.name + (g.pairs !== null ? " (" + g.pairs + " pairs)" : "")};
    }), dissect.group, function (v) { dissect.group = v; renderDissection(); }, "group-select")));
    box.appendChild(field("Sort by", select([
      {value: "weight", text: "weight (first judge)"}, {value: "schema", text: "property order"},
      {value: "spread", text: "disagreement between judges"}],
      dissect.sort, function (v) { dissect.sort = v; renderDissection(); }, "sort-select")));
    var checks = el("div", {class: "checks", id: "judge-checks"});
    DATA.judges.forEach(function (judge, i) {
      var input = el("input", {type: "checkbox", value: judge});
      input.checked = dissect.judges.indexOf(judge) >= 0;
      input.addEventListener("change", function () {
        dissect.judges = DATA.judges.filter(function (j) {
          return j === judge ? input.checked : dissect.judges.indexOf(j) >= 0;
        });
        renderDissection();
      });
      checks.appendChild(el("label", {}, input, el("span", {class: "swatch", style: "background:" + color(i)}), judge));
    });
    box.appendChild(field("Judges", checks));
    if (REFERENCE_JUDGES.length) {
      var ref = el("select", {multiple: "multiple", size: "4", id: "reference-select"});
      REFERENCE_JUDGES.forEach(function (j) { ref.appendChild(el("option", {value: j, text: j})); });
      ref.addEventListener("change", function () {
        dissect.reference = Array.prototype.filter.call(ref.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
        renderDissection();
      });
      box.appendChild(field("The paper's judges", ref));
    }
  }
  function renderDissection() {
    var host = clear(document.getElementById("dissection-plot"));
    var judges = dissect.judges.concat(dissect.reference);
    var rows = ORDER.filter(function (p) {
      return judges.some(function (j) { return PROFILE[j] && PROFILE[j][dissect.group] && PROFILE[j][dissect.group][p]; });
    });
    if (!judges.length || !rows.length) {
      host.appendChild(el("p", {class: "empty", text: "No profile for this selection."}));
      return;
    }
    function row(judge, p) { return PROFILE[judge] && PROFILE[judge][dissect.group] && PROFILE[judge][dissect.group][p]; }
    if (dissect.sort === "weight") {
      rows.sort(function (a, b) {
        var ra = row(judges[0], a), rb = row(judges[0], b);
        return (rb ? rb.mean : -9) - (ra ? ra.mean : -9);
      });
    } else if (dissect.sort === "spread") {
      var spread = function (p) {
        var m = judges.map(function (j) { var r = row(j, p); return r ? r.mean : 0; });
        return Math.max.apply(null, m) - Math.min.apply(null, m);
      };
      rows.sort(function (a, b) { return spread(b) - spread(a); });
    }
    var lo = 0.5, hi = 0.5;
    judges.forEach(function (j) {
      rows.forEach(function (p) {
        var r = row(j, p);
        if (!r) { return; }
        var a = sigmoid(r.lower === null ? r.mean : r.lower), b = sigmoid(r.upper === null ? r.mean : r.upper);
        lo = Math.min(lo, a, sigmoid(r.mean)); hi = Math.max(hi, b, sigmoid(r.mean));
      });
    });
    lo = Math.max(0, Math.floor((lo - 0.02) * 20) / 20); hi = Math.min(1, Math.ceil((hi + 0.02) * 20) / 20);
    var left = 200, width = 1000, plotW = width - left - 40, rowH = Math.max(24, 10 + 8 * judges.length);
    var height = 40 + rows.length * rowH;
    var x = function (p) { return left + (p - lo) / (hi - lo) * plotW; };
    var chart = svg("svg", {width: width, height: height + 30, viewBox: "0 0 " + width + " " + (height + 30),
                            id: "dissection-svg", role: "img"});
    for (var t = Math.ceil(lo * 20) / 20; t <= hi + 1e-9; t += 0.05) {
      chart.appendChild(svg("line", {x1: x(t), x2: x(t), y1: 20, y2: height, stroke: "#eef0f3"}));
      chart.appendChild(svg("text", {x: x(t), y: height + 16, "text-anchor": "middle", "font-size": 11,
                                     fill: "#667085"}, pct(t, 0)));
    }
    chart.appendChild(svg("line", {x1: x(0.5), x2: x(0.5), y1: 16, y2: height, stroke: "#c4321c",
                                   "stroke-dasharray": "4 3"}));
    chart.appendChild(svg("text", {x: left + plotW / 2, y: 12, "text-anchor": "middle", "font-size": 12,
                                   fill: "#667085"}, "probability of preferred, group: " + dissect.group));
    rows.forEach(function (p, i) {
      var y0 = 28 + i * rowH;
      if (i % 2 === 0) { chart.appendChild(svg("rect", {x: 0, y: y0 - 4, width: width, height: rowH, fill: "#fafbfc"})); }
      chart.appendChild(tip(svg("text", {x: left - 10, y: y0 + rowH / 2, "text-anchor": "end", "font-size": 12,
                                         "dominant-baseline": "middle"}, label(p)), p));
      judges.forEach(function (j, k) {
        var r = row(j, p);
        if (!r) { return; }
        var y = y0 + 4 + (k + 0.5) * (rowH - 8) / judges.length;
        var c = DATA.judges.indexOf(j) >= 0 ? color(DATA.judges.indexOf(j)) : color(DATA.judges.length + dissect.reference.indexOf(j));
        var text = j + " - " + label(p) + ": " + pct(sigmoid(r.mean)) +
          (r.lower !== null ? " [" + pct(sigmoid(r.lower)) + ", " + pct(sigmoid(r.upper)) + "]" : "") +
          " (weight " + num(r.mean, 3) + (r.n_pairs ? ", " + r.n_pairs + " pairs" : "") + ")";
        if (r.lower !== null && r.upper !== null) {
          chart.appendChild(svg("line", {x1: x(sigmoid(r.lower)), x2: x(sigmoid(r.upper)), y1: y, y2: y,
                                         stroke: c, "stroke-width": 2, opacity: 0.7}));
        }
        var dot = svg("circle", {cx: x(sigmoid(r.mean)), cy: y, r: 4.5, fill: c,
                                 stroke: r.reference ? "#000" : "none", "class": "dot"});
        chart.appendChild(tip(dot, text));
      });
    });
    host.appendChild(chart);
    var legend = el("div", {class: "checks small"});
    judges.forEach(function (j) {
      var i = DATA.judges.indexOf(j);
      var c = i >= 0 ? color(i) : color(DATA.judges.length + dissect.reference.indexOf(j));
      legend.appendChild(el("span", {}, el("span", {class: "swatch", style: "background:" + c}), j));
    });
    host.appendChild(legend);
  }

  // ---- judges view -----------------------------------------------------------------------------
  var judgesState = {reference: false};
  function renderJudges() {
    var box = clear(document.getElementById("judges-controls"));
    if (DATA.similarity_reference) {
      var input = el("input", {type: "checkbox", id: "with-reference"});
      input.checked = judgesState.reference;
      input.addEventListener("change", function () { judgesState.reference = input.checked; renderJudges(); });
      box.appendChild(el("label", {class: "checks"}, el("span", {}, input, " show the paper's 33 judges beside these")));
    }
    var block = judgesState.reference ? DATA.similarity_reference : DATA.similarity;
    var host = clear(document.getElementById("judges-plot"));
    var nearestHost = clear(document.getElementById("judges-nearest"));
    if (!block) {
      host.appendChild(el("p", {class: "empty", text: "Similarity needs at least two judges with profiles " +
        "in a shared group; add --reference to set this study's judges beside the paper's."}));
      return;
    }
    var names = block.judges, n = names.length, cell = n > 14 ? 18 : 44, left = 170, top = 150;
    var size = left + n * cell + 20;
    var chart = svg("svg", {width: size, height: top + n * cell + 20, id: "similarity-svg"});
    function fill(v) {
      if (v === null) { return "#eee"; }
      var t = Math.max(-1, Math.min(1, v));
      var a = Math.round(255 * (1 - Math.abs(t)));
      return t >= 0 ? "rgb(" + 255 + "," + a + "," + a + ")" : "rgb(" + a + "," + a + "," + 255 + ")";
    }
    names.forEach(function (name, i) {
      var fitted = DATA.judges.indexOf(name) >= 0;
      chart.appendChild(svg("text", {x: left - 6, y: top + i * cell + cell / 2, "text-anchor": "end",
        "dominant-baseline": "middle", "font-size": 11, "font-weight": fitted ? 700 : 400}, name));
      chart.appendChild(svg("text", {x: 0, y: 0, "font-size": 11, "font-weight": fitted ? 700 : 400,
        transform: "translate(" + (left + i * cell + cell / 2) + "," + (top - 6) + ") rotate(-55)"}, name));
      names.forEach(function (other, j) {
        var v = block.matrix[i][j];
        var rect = svg("rect", {x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1,
                                fill: fill(v), "class": "cell"});
        tip(rect, name + " ~ " + other + ": " + num(v, 3) +
          (i !== j ? " [" + num(block.lower[i][j], 3) + ", " + num(block.upper[i][j], 3) + "]" : ""));
        chart.appendChild(rect);
        if (n <= 14) {
          chart.appendChild(svg("text", {x: left + j * cell + cell / 2, y: top + i * cell + cell / 2,
            "text-anchor": "middle", "dominant-baseline": "middle", "font-size": 11,
            fill: Math.abs(v) > 0.6 ? "#fff" : "#1d2430"}, num(v, 2)));
        }
      });
    });
    host.appendChild(el("p", {class: "muted small", text: block.method + " similarity of weights, averaged over " +
      block.groups.length + " group(s): " + block.groups.join(", ") + "; judges in clustering order; intervals from " +
      block.interval + " (hover a cell)."}));
    host.appendChild(chart);
    if (judgesState.reference) {
      DATA.judges.forEach(function (judge) {
        var i = names.indexOf(judge);
        if (i < 0) { return; }
        var near = names.map(function (other, j) { return {judge: other, v: block.matrix[i][j], lo: block.lower[i][j], hi: block.upper[i][j]}; })
          .filter(function (r) { return REFERENCE_JUDGES.indexOf(r.judge) >= 0; })
          .sort(function (a, b) { return b.v - a.v; }).slice(0, 5);
        nearestHost.appendChild(el("h2", {text: "Nearest of the paper's judges to " + judge}));
        nearestHost.appendChild(table([
          {title: "judge", value: function (r) { return r.judge; }},
          {title: "similarity", num: true, value: function (r) { return num(r.v, 3); }},
          {title: "interval", num: true, value: function (r) { return "[" + num(r.lo, 3) + ", " + num(r.hi, 3) + "]"; }}
        ], near));
      });
    }
  }

  // ---- samples view ------------------------------------------------------------------------------
  function loadTexts() {
    if (TEXTS) { return Promise.resolve(TEXTS); }
    var b64 = document.getElementById("report-texts").textContent.trim();
    var binary = atob(b64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(function (text) { TEXTS = JSON.parse(text); return TEXTS; });
  }
  var P = DATA.pairs;
  var samples = {group: "all", disagree: false, search: "", page: 0, size: 25, selected: null,
                 judge: DATA.judges[0], matches: null};
  function groupBit(name) { return DATA.group_bits.indexOf(name); }
  function filterPairs() {
    var bit = groupBit(samples.group), needle = samples.search.toLowerCase(), out = [];
    var fitted = DATA.judges.filter(function (j) { return DATA.choices[j]; });
    for (var i = 0; i < P.id.length; i++) {
      if (bit >= 0 && !(Math.floor(P.groups[i] / Math.pow(2, bit)) % 2)) { continue; }
      if (samples.disagree) {
        var seen = {};
        fitted.forEach(function (j) { var c = DATA.choices[j][i]; if (c === "A" || c === "B") { seen[c] = true; } });
        if (!(seen.A && seen.B)) { continue; }
      }
      if (needle) {
        var hay = (P.id[i] + "\n" + TEXTS[P.query[i]] + "\n" + TEXTS[P.a[i]] + "\n" + TEXTS[P.b[i]]).toLowerCase();
        if (hay.indexOf(needle) < 0) { continue; }
      }
      out.push(i);
    }
    return out;
  }
  function pill(choice) {
    var kind = choice === "A" || choice === "B" || choice === "T" ? choice : "n";
    return el("span", {class: "pill " + kind, text: choice === "T" ? "tie" : (kind === "n" ? "-" : choice)});
  }
  function renderSamplesControls() {
    var box = clear(document.getElementById("samples-controls"));
    box.appendChild(field("Group", select(DATA.group_bits.map(function (g) { return {value: g, text: g}; }),
      samples.group, function (v) { samples.group = v; samples.page = 0; renderSampleList(); }, "sample-group")));
    var disagree = el("input", {type: "checkbox", id: "sample-disagree"});
    disagree.addEventListener("change", function () { samples.disagree = disagree.checked; samples.page = 0; renderSampleList(); });
    box.appendChild(el("label", {class: "checks"}, el("span", {}, disagree, " judges disagree (A vs B)")));
    var search = el("input", {type: "search", id: "sample-search", placeholder: "search query and responses"});
    var timer = null;
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { samples.search = search.value; samples.page = 0; renderSampleList(); }, 200);
    });
    box.appendChild(field("Text", search));
    if (DATA.judges.length) {
      box.appendChild(field("Explain with", select(DATA.judges.map(function (j) { return {value: j, text: j}; }),
        samples.judge, function (v) { samples.judge = v; if (samples.selected !== null) { renderDetail(samples.selected); } }, "explain-judge")));
    }
  }
  function renderSampleList() {
    var host = clear(document.getElementById("samples-list"));
    var matches = filterPairs();
    samples.matches = matches;
    var pages = Math.max(1, Math.ceil(matches.length / samples.size));
    samples.page = Math.min(samples.page, pages - 1);
    var shown = matches.slice(samples.page * samples.size, (samples.page + 1) * samples.size);
    var judges = DATA.all_judges.slice(0, 4);
    var columns = [{title: "pair", value: function (i) { var id = P.id[i]; return id.length > 28 ? "..." + id.slice(-25) : id; }},
                   {title: "query", value: function (i) { var q = TEXTS[P.query[i]]; return q.length > 90 ? q.slice(0, 90) + "..." : q; }}];
    judges.forEach(function (j) { columns.push({title: j, value: function (i) { return pill(DATA.choices[j][i]); }}); });
    var t = table(columns, shown);
    Array.prototype.forEach.call(t.querySelectorAll("tbody tr"), function (tr, k) {
      tr.className = "clickable" + (shown[k] === samples.selected ? " active" : "");
      tr.setAttribute("data-pair", String(shown[k]));
      tr.addEventListener("click", function () { samples.selected = shown[k]; renderSampleList(); renderDetail(shown[k]); });
    });
    host.appendChild(el("p", {class: "muted small", id: "sample-count", text: matches.length + " pairs match"}));
    host.appendChild(t);
    var pager = el("div", {class: "pager"},
      el("button", {text: "previous", onclick: function () { if (samples.page > 0) { samples.page--; renderSampleList(); } }}),
      el("span", {text: "page " + (samples.page + 1) + " of " + pages}),
      el("button", {text: "next", onclick: function () { if (samples.page < pages - 1) { samples.page++; renderSampleList(); } }}));
    host.appendChild(pager);
  }
  function shapley(contributions) {
    var m = contributions.length, phi = new Array(m).fill(0);
    if (!m) { return {values: phi, exact: true}; }
    if (m <= 18) {
      var size = 1 << m, sums = new Float64Array(size), count = new Uint8Array(size), i, j;
      for (i = 1; i < size; i++) {
        var low = i & -i, bit = 31 - Math.clz32(low);
        sums[i] = sums[i ^ low] + contributions[bit]; count[i] = count[i ^ low] + 1;
      }
      var fact = [1]; for (i = 1; i <= m; i++) { fact.push(fact[i - 1] * i); }
      for (j = 0; j < m; j++) {
        var mask = 1 << j, total = 0;
        for (i = 0; i < size; i++) {
          if (i & mask) { continue; }
          var s = count[i];
          total += fact[s] * fact[m - s - 1] / fact[m] * (sigmoid(sums[i] + contributions[j]) - sigmoid(sums[i]));
        }
        phi[j] = total;
      }
      return {values: phi, exact: true};
    }
    var draws = 4000, order = [], k, t;  // permutation estimate for very many properties
    for (k = 0; k < m; k++) { order.push(k); }
    for (t = 0; t < draws; t++) {
      for (k = m - 1; k > 0; k--) { var r = Math.floor(Math.random() * (k + 1)); var tmp = order[k]; order[k] = order[r]; order[r] = tmp; }
      var acc = 0;
      for (k = 0; k < m; k++) { var before = sigmoid(acc); acc += contributions[order[k]]; phi[order[k]] += (sigmoid(acc) - before) / draws; }
    }
    return {values: phi, exact: false};
  }
  function waterfall(items, predicted) {
    var width = 560, rowH = 22, left = 170, plotW = width - left - 60;
    var height = 30 + (items.length + 2) * rowH;
    var chart = svg("svg", {width: width, height: height, id: "waterfall-svg"});
    var level = 0.5, lo = 0.5, hi = 0.5;
    items.forEach(function (it) { level += it.value; lo = Math.min(lo, level); hi = Math.max(hi, level); });
    lo = Math.max(0, lo - 0.05); hi = Math.min(1, hi + 0.05);
    var x = function (p) { return left + (p - lo) / (hi - lo) * plotW; };
    chart.appendChild(svg("line", {x1: x(0.5), x2: x(0.5), y1: 10, y2: height - 10, stroke: "#c4321c", "stroke-dasharray": "4 3"}));
    chart.appendChild(svg("text", {x: left - 8, y: 20, "text-anchor": "end", "font-size": 12}, "baseline (all equal)"));
    chart.appendChild(svg("text", {x: x(0.5) + 4, y: 20, "font-size": 11, fill: "#667085"}, "50%"));
    level = 0.5;
    items.forEach(function (it, i) {
      var y = 30 + i * rowH, start = level, end = level + it.value;
      chart.appendChild(svg("text", {x: left - 8, y: y + 14, "text-anchor": "end", "font-size": 12}, it.label));
      chart.appendChild(tip(svg("rect", {x: Math.min(x(start), x(end)), y: y + 3, width: Math.max(1, Math.abs(x(end) - x(start))),
        height: rowH - 6, fill: it.value >= 0 ? "#2b8a3e" : "#c4321c", "class": "bar"}),
        it.label + ": " + (it.value >= 0 ? "+" : "") + (100 * it.value).toFixed(2) + " percentage points"));
      chart.appendChild(svg("text", {x: Math.max(x(start), x(end)) + 4, y: y + 14, "font-size": 11, fill: "#667085"},
        (it.value >= 0 ? "+" : "") + (100 * it.value).toFixed(1)));
      level = end;
    });
    var yEnd = 30 + items.length * rowH;
    chart.appendChild(svg("text", {x: left - 8, y: yEnd + 14, "text-anchor": "end", "font-size": 12, "font-weight": 700}, "predicted P(A)"));
    chart.appendChild(svg("circle", {cx: x(predicted), cy: yEnd + 10, r: 5, fill: "#3056d3"}));
    chart.appendChild(svg("text", {x: x(predicted) + 8, y: yEnd + 14, "font-size": 12, "font-weight": 700}, pct(predicted)));
    return chart;
  }
  function renderDetail(i) {
    var host = clear(document.getElementById("samples-detail"));
    host.appendChild(el("h2", {text: "Pair " + P.id[i]}));
    host.appendChild(el("h3", {text: "Query"}));
    host.appendChild(el("pre", {class: "query", text: TEXTS[P.query[i]]}));
    host.appendChild(el("div", {class: "grid2"},
      el("div", {}, el("h3", {text: "Response A"}), el("pre", {class: "response-a", text: TEXTS[P.a[i]]})),
      el("div", {}, el("h3", {text: "Response B"}), el("pre", {class: "response-b", text: TEXTS[P.b[i]]}))));
    host.appendChild(el("h3", {text: "Judges"}));
    host.appendChild(table([
      {title: "judge", value: function (j) { return j; }},
      {title: "choice", value: function (j) { return pill(DATA.choices[j][i]); }},
      {title: "P(A)", num: true, value: function (j) { var p = DATA.p_a[j]; return p && p[i] !== null ? pct(p[i]) : ""; }}
    ], DATA.all_judges));
    var props = DATA.comparison_properties;
    if (props.length) {
      host.appendChild(el("h3", {text: "Annotations"}));
      host.appendChild(table([
        {title: "property", value: function (p) { return label(p); }},
        {title: "A", num: true, value: function (p) { var v = DATA.annotations[p] && DATA.annotations[p][i]; return v ? num(v[0], 2) : ""; }},
        {title: "B", num: true, value: function (p) { var v = DATA.annotations[p] && DATA.annotations[p][i]; return v ? num(v[1], 2) : ""; }},
        {title: "better", value: function (p) { var c = DATA.comparisons[i][props.indexOf(p)]; return c === null ? "missing" : (c > 0 ? "A" : (c < 0 ? "B" : "equal")); }}
      ], props));
    }
    var judge = samples.judge, profile = PROFILE[judge];
    if (!profile) { return; }
    var scenario = P.scenario[i];
    var group = scenario && profile[scenario] ? scenario : "all";
    if (!profile[group]) { return; }
    var items = [];
    props.forEach(function (p, k) {
      var c = DATA.comparisons[i][k], r = profile[group][p];
      if (c && r) { items.push({label: label(p), contribution: c * r.mean}); }
    });
    var result = shapley(items.map(function (it) { return it.contribution; }));
    items.forEach(function (it, k) { it.value = result.values[k]; });
    items.sort(function (a, b) { return Math.abs(b.value) - Math.abs(a.value); });
    var predicted = sigmoid(items.reduce(function (s, it) { return s + it.contribution; }, 0));
    host.appendChild(el("h3", {text: "Why " + judge + "'s profile (" + group + ") predicts " + pct(predicted) + " for A"}));
    host.appendChild(el("p", {class: "muted small", text: "Shapley values on the probability scale from the all-equal baseline (50%)" +
      (result.exact ? ", exact." : ", estimated from 4,000 permutations.")}));
    host.appendChild(waterfall(items, predicted));
  }
  function renderSamples() {
    var host = document.getElementById("samples-list");
    host.appendChild(el("p", {class: "muted", id: "samples-loading", text: "unpacking texts..."}));
    return loadTexts().then(function () {
      renderSamplesControls();
      renderSampleList();
    });
  }

  // ---- diagnostics view ---------------------------------------------------------------------------
  function renderDiagnostics() {
    var host = clear(document.getElementById("diagnostics-body"));
    function section(title, note, node) {
      host.appendChild(el("h2", {text: title}));
      if (note) { host.appendChild(el("p", {class: "muted small", text: note})); }
      host.appendChild(node);
    }
    var empty = function (text) { return el("p", {class: "empty", text: text}); };
    section("Data", (DATA.meta.notes || []).join(" "), table([
      {title: "group", value: function (g) { return g.name; }},
      {title: "pairs", num: true, value: function (g) { return g.pairs === null ? "" : String(g.pairs); }}
    ], DATA.groups));
    var q = DATA.quality;
    section("How much the dissection explains", "Held-out accuracy and log-loss over the folds, beside null baselines.",
      q.length ? table([
        {title: "judge", value: function (r) { return r.judge; }},
        {title: "group", value: function (r) { return r.group; }},
        {title: "pairs", num: true, value: function (r) { return String(r.n_pairs); }},
        {title: "properties: accuracy", num: true, value: function (r) { return r.model_accuracy === null ? "" : pct(r.model_accuracy); }},
        {title: "log-loss", num: true, value: function (r) { return num(r.model_log_loss, 3); }},
        {title: "length alone", num: true, value: function (r) { return r.length_accuracy === null ? "" : pct(r.length_accuracy); }},
        {title: "log-loss", num: true, value: function (r) { return num(r.length_log_loss, 3); }},
        {title: "always A", num: true, value: function (r) { return r.always_a_accuracy === null ? "" : pct(r.always_a_accuracy); }},
        {title: "majority", num: true, value: function (r) { return r.majority_accuracy === null ? "" : pct(r.majority_accuracy); }}
      ], q) : empty("No folds were fitted (--folds 0)."));
    section("Left out", "Every item kept out of the import, the judging or the fit, by reason.",
      DATA.exclusions.length ? table([
        {title: "stage", value: function (r) { return r.stage; }},
        {title: "reason", value: function (r) { return r.reason; }},
        {title: "count", num: true, value: function (r) { return String(r.count); }}
      ], DATA.exclusions) : empty("Nothing was left out."));
    if (DATA.exclusions_by_judge.length) {
      section("Left out, per judge", null, table([
        {title: "judge", value: function (r) { return r.judge; }},
        {title: "stage", value: function (r) { return r.stage; }},
        {title: "reason", value: function (r) { return r.reason; }},
        {title: "count", num: true, value: function (r) { return String(r.count); }}
      ], DATA.exclusions_by_judge));
    }
    section("LLM judges: position bias", "Consistency: share of pairs whose choice survives swapping A and B; first position: how often the response shown first was chosen.",
      DATA.judge_stats.length ? table([
        {title: "judge", value: function (r) { return r.judge; }},
        {title: "judged", num: true, value: function (r) { return String(r.judged); }},
        {title: "failed", num: true, value: function (r) { return String(r.failed); }},
        {title: "consistency", num: true, value: function (r) { return r.position_consistency === null ? "" : pct(r.position_consistency); }},
        {title: "first position", num: true, value: function (r) { return r.first_position_rate === null ? "" : pct(r.first_position_rate); }}
      ], DATA.judge_stats) : empty("No LLM judge was run in this study."));
    section("LLM annotator: flip rate under A/B swap", "How often a property's comparison changed when the responses were exchanged.",
      DATA.consistency.length ? table([
        {title: "property", value: function (r) { return label(r.property); }},
        {title: "pairs", num: true, value: function (r) { return String(r.pairs); }},
        {title: "flip rate", num: true, value: function (r) { return pct(r.flip_rate); }}
      ], DATA.consistency) : empty("No swap check was run (annotate --annotator llm --swap-check)."));
    var warnings = DATA.diagnostics.filter(function (r) { return !r.converged || r.warning; });
    section("Fits", DATA.diagnostics.length + " fits; " + warnings.length + " with warnings.",
      warnings.length ? table([
        {title: "judge", value: function (r) { return r.judge; }},
        {title: "group", value: function (r) { return r.group; }},
        {title: "warning", value: function (r) { return r.warning || "did not converge"; }}
      ], warnings) : empty("Every fit converged."));
  }

  var VIEWS = {
    dissection: function () { renderDissectionControls(); renderDissection(); },
    judges: renderJudges,
    samples: renderSamples,
    diagnostics: renderDiagnostics
  };
  rendered.dissection = true;
  VIEWS.dissection();
  window.prefdissectReport = {show: showView, ready: true, texts: loadTexts};
  document.documentElement.setAttribute("data-ready", "true");
})();
