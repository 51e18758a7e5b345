/* prefdissect report: the Probes view (from `prefdissect probe`, shown with `report --probes`).
   Per edit, the win rate of the edited copy against its original (filled dot, 95% interval), and
   where the study has a fitted profile of the same judge, what the profile predicts for that copy
   (hollow diamond): P(preferred) of the edit's property, or 100 - P where the edit makes the
   response worse on it. Every value is in the tables below the chart; the example texts are set
   as plain text. */

var PROBES = DATA.probes || {rows: [], observational: [], examples: {}, settings: {}};
var PROBE_COLOR = "#0072B2", PROFILE_COLOR = "#D55E00";

function probeInterval(value, low, high) {
  if (missing(value)) { return "\u2013"; }
  return num(value, 1) + (missing(low) ? "" : " [" + num(low, 1) + ", " + num(high, 1) + "]");
}

function probesView(panel) {
  var judges = [], groups = [];
  PROBES.rows.forEach(function (r) {
    if (judges.indexOf(r.judge) < 0) { judges.push(r.judge); }
    if (groups.indexOf(r.group) < 0) { groups.push(r.group); }
  });
  var state = {judge: judges[0], group: groups.indexOf("all") >= 0 ? "all" : groups[0]};
  var controls = el("div", {class: "controls", id: "probes-controls"});
  var host = el("div", {class: "card chart-host", id: "probes-chart"});
  var legend = el("div", {class: "legend", id: "probes-legend"});
  var below = el("div", {id: "probes-below"});
  var settings = PROBES.settings || {};
  append(panel, [el("p", {class: "lede", text: "Each edit changes one property of a sampled response and nothing else the " +
    "heuristic annotator measures; the judge is asked, in both orders, about the original against its edited copy. " +
    "50% means the edit does not move the judge. Beside it, what the fitted profile (an observational regression) " +
    "predicts for the same change: where the two disagree, the profile's weight reflects what travels with the " +
    "property in real answers rather than the property itself."}),
    el("p", {class: "muted small", id: "probes-settings", text: (settings.n ? settings.n + " source responses sampled" : "") +
      (settings.group_by && settings.group_by.length ? ", stratified by " + settings.group_by.join(", ") : "") +
      (missing(settings.seed) ? "" : ", seed " + settings.seed) + "."}),
    controls, host, legend, below]);

  function rows() {
    return PROBES.rows.filter(function (r) { return r.judge === state.judge && r.group === state.group; });
  }
  function beside(edit) {
    return PROBES.observational.filter(function (o) { return o.judge === state.judge && o.group === state.group && o.edit === edit; })[0];
  }
  function renderControls() {
    clear(controls);
    if (judges.length > 1) {
      append(controls, field("Judge", select(judges.map(function (j) { return {value: j, text: j}; }), state.judge,
        function (v) { state.judge = v; render(); }, "probes-judge")));
    }
    append(controls, field("Group", select(groups.map(function (g) { return {value: g, text: g}; }), state.group,
      function (v) { state.group = v; render(); }, "probes-group")));
  }

  function chart(list, width) {
    var small = width < 560, labelSize = small ? 11 : 12;
    var names = list.map(function (r) { return "\u26a0 " + r.edit; });
    var left = Math.min(Math.max.apply(null, names.map(function (n) { return textWidth(n, labelSize); }).concat([50])) + 14,
                        Math.round(width * (small ? 0.34 : 0.24)));
    var right = width - (small ? 16 : 24), rowH = 30, top = 10, height = top + list.length * rowH, bottom = height + 34;
    var x = function (v) { return left + Math.max(0, Math.min(100, v)) / 100 * (right - left); };
    var svgNode = svg("svg", {width: width, height: bottom, viewBox: "0 0 " + width + " " + bottom, role: "img", "class": "chart",
                              id: "probes-svg", "aria-label": "Win rate of each edited copy against its original, " + state.judge +
                              ", group " + state.group + ", with the profile's prediction where there is one"});
    for (var t = 0; t <= 100; t += small ? 25 : 10) {
      svgNode.appendChild(svg("line", {x1: x(t), x2: x(t), y1: top - 4, y2: height, stroke: "#e6e9ee"}));
      svgNode.appendChild(svg("text", {x: x(t), y: height + 14, "text-anchor": "middle", "font-size": 11, fill: "#4b5565",
                                       "class": "tick"}, t + "%"));
    }
    list.forEach(function (r, i) {
      var y = top + i * rowH + rowH / 2, o = beside(r.edit);
      if (i % 2 === 0) { svgNode.appendChild(svg("rect", {x: 0, y: y - rowH / 2, width: width, height: rowH, fill: "#f6f7f9"})); }
      var label = tip(svg("g"), r.edit + ": " + r.property + " " + r.direction);
      label.appendChild(svg("text", {x: left - 8, y: y, "text-anchor": "end", "dominant-baseline": "middle", "font-size": labelSize,
                                     "font-weight": o && o.disagree ? 700 : 400, "class": "row-label"},
                            (o && o.disagree ? "\u26a0 " : "") + r.edit));
      svgNode.appendChild(label);
      var g = svg("g", {"class": "mark-group", "data-edit": r.edit, "data-win": missing(r.win_rate) ? "" : r.win_rate.toFixed(4)});
      if (!missing(r.win_rate)) {
        g.appendChild(svg("line", {x1: x(r.win_rate_lower), x2: x(r.win_rate_upper), y1: y - 5, y2: y - 5, stroke: PROBE_COLOR,
                                   "stroke-width": 3.5, "stroke-linecap": "round", "class": "interval"}));
        g.appendChild(marker("dot", PROBE_COLOR, x(r.win_rate), y - 5, 4.5));
      }
      if (o) {  // the profile's prediction for the edited copy (the edit's own scale)
        var up = o.direction === "up";
        var p = up ? o.profile_p : 100 - o.profile_p;
        var lo = up ? o.profile_lower : 100 - o.profile_upper, hi = up ? o.profile_upper : 100 - o.profile_lower;
        g.appendChild(svg("line", {x1: x(lo), x2: x(hi), y1: y + 6, y2: y + 6, stroke: PROFILE_COLOR, "stroke-width": 2.5,
                                   opacity: 0.85, "class": "interval profile"}));
        g.appendChild(marker("diamond", PROFILE_COLOR, x(p), y + 6, 3.5));
      }
      tip(g, r.edit + " (" + r.property + " " + r.direction + "): the edited copy wins " + probeInterval(r.win_rate, r.win_rate_lower,
          r.win_rate_upper) + "% over " + r.n + " responses" + (o ? "; the profile predicts " +
          probeInterval(up ? o.profile_p : 100 - o.profile_p, lo, hi) + "%" + (o.disagree ? " (they disagree: " + o.why + ")" : "") : ""));
      svgNode.appendChild(g);
    });
    svgNode.appendChild(svg("line", {x1: x(50), x2: x(50), y1: top - 4, y2: height, stroke: "#5b6472", "stroke-dasharray": "4 3"}));
    svgNode.appendChild(svg("text", {x: left + (right - left) / 2, y: bottom - 4, "text-anchor": "middle", "font-size": 11,
                                     fill: "#4b5565"}, "edited copy's win rate against its original"));
    return svgNode;
  }

  function draw() {
    var list = rows();
    clear(host);
    if (!list.length) { host.appendChild(emptyNote("No probes of " + state.judge + " in group " + state.group + ".")); return; }
    host.appendChild(chart(list, chartWidth(host) - 28));
  }

  function tables() {
    clear(below);
    var list = rows();
    below.appendChild(el("h2", {class: "small-heading", text: "Probe effects (percentage points, 95% intervals over source responses)"}));
    below.appendChild(el("div", {id: "probes-table"}, table([
      {title: "edit", value: function (r) { return r.edit; }},
      {title: "target", value: function (r) { return r.property + " " + r.direction; }},
      {title: "n", num: true, value: function (r) { return String(r.n); }},
      {title: "win rate", num: true, value: function (r) { return probeInterval(r.win_rate, r.win_rate_lower, r.win_rate_upper); }},
      {title: "shift in pair", num: true, value: function (r) { return probeInterval(r.pair_shift, r.pair_shift_lower, r.pair_shift_upper); }},
      {title: "flips", num: true, value: function (r) { return pct(r.flip_rate, 0); }},
      {title: "kept", num: true, value: function (r) { return pct(r.kept_share, 0); }}
    ], list)));
    var obs = PROBES.observational.filter(function (o) { return o.judge === state.judge && o.group === state.group; });
    below.appendChild(el("h2", {class: "small-heading", text: "Observational (profile) beside interventional (probe), on the property's scale"}));
    var compared = obs.length ? table([
      {title: "property (edit)", value: function (o) { return label(o.property) + " (" + o.edit + ")"; }},
      {title: "profile P(preferred)", num: true, value: function (o) { return probeInterval(o.profile_p, o.profile_lower, o.profile_upper); }},
      {title: "probe effect", num: true, value: function (o) { return probeInterval(o.probe_effect, o.probe_lower, o.probe_upper); }},
      {title: "verdict", value: function (o) { return o.disagree ? el("span", {class: "warn", text: "disagree: " + o.why}) : "agree"; }}
    ], obs) : emptyNote("The study has no fitted profile of " + state.judge + " in group " + state.group +
                        " to set beside the probes (judge and fit the study under the same name).");
    if (obs.length) { compared.classList.add("stackable"); }  // one card per row on a phone
    below.appendChild(el("div", {id: "probes-observational"}, compared));
    var names = list.map(function (r) { return r.edit; }).filter(function (n) { return PROBES.examples[n]; });
    if (names.length) {
      var box = el("div", {id: "probes-examples"});
      names.forEach(function (n) {
        var ex = PROBES.examples[n];
        box.appendChild(disclosure(n + " (response " + ex.source + ")", el("div", {class: "responses"},
          el("section", {}, el("h3", {text: "Original"}), el("div", {class: "text"}, el("pre", {class: "plain", text: ex.original}))),
          el("section", {}, el("h3", {text: "Edited"}), el("div", {class: "text"}, el("pre", {class: "plain", text: ex.edited}))))));
      });
      below.appendChild(el("h2", {class: "small-heading", text: "What each edit did (one example each)"}));
      below.appendChild(box);
    }
  }

  function render() {
    renderControls();
    clear(legend);
    legend.appendChild(el("div", {class: "legend-row"},
      el("span", {class: "legend-item"}, swatch("dot", PROBE_COLOR), "probe: edited copy's win rate (95% interval)"),
      el("span", {class: "legend-item"}, swatch("diamond", PROFILE_COLOR), "profile's prediction for the same change"),
      el("span", {class: "legend-item", text: "\u26a0 they disagree"})));
    draw();
    tables();
  }
  render();
  return {resize: draw};
}
