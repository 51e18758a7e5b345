/* prefdissect report: the Discoveries view (from `prefdissect discover`).
   Each candidate's held-out gain with its 95% interval beside the permutation threshold,
   the kept ones marked, a table of every value, and the kept set's joint fit. Everything
   is built with createElement / textContent like the other views. */

var DISCOVERIES = DATA.discoveries.rows, DISCOVERY = DATA.discovery || {};
var KEPT_COLOR = "#0072B2", OTHER_COLOR = "#9aa3b0";

function discoveriesView(panel) {
  var state = {show: "top", proposer: "all"};
  var proposers = [];
  DISCOVERIES.forEach(function (r) { if (proposers.indexOf(r.proposer) < 0) { proposers.push(r.proposer); } });
  var controls = el("div", {class: "controls", id: "discoveries-controls"});
  var summary = el("p", {class: "muted small", id: "discoveries-summary"});
  var host = el("div", {class: "card chart-host", id: "discoveries-gains"});
  var below = el("div", {id: "discoveries-below"});
  var joint = el("div", {id: "discoveries-joint"});
  append(panel, [el("p", {class: "lede", text: "What the judge rewards that the schema does not name. Candidates were " +
    "proposed on half of the queries and tested on the other half, each beside the schema's properties and the model " +
    "terms: its held-out gain (the drop in log-loss per pair) with a 95% interval over queries. A candidate is kept " +
    "when its gain beats the threshold that shuffled labels set (the dashed line)."}), summary, controls, host, below,
    el("h2", {class: "small-heading", text: "The kept set, fitted jointly"}), joint]);

  function tested(r) { return !missing(r.gain); }
  function rows() {
    var list = DISCOVERIES.filter(function (r) { return state.proposer === "all" || r.proposer === state.proposer; });
    if (state.show === "kept") { list = list.filter(function (r) { return r.selected; }); }
    list = list.filter(tested);
    return state.show === "top" ? list.slice(0, 20) : list;
  }
  function interval(r) { return pct(sigmoid(r.lower)) + " \u2013 " + pct(sigmoid(r.upper)); }

  function renderControls() {
    clear(controls);
    append(controls, field("Show", select([{value: "top", text: "the first 20"}, {value: "all", text: "every tested candidate"},
      {value: "kept", text: "the kept ones"}], state.show, function (v) { state.show = v; render(); }, "discoveries-show")));
    if (proposers.length > 1) {
      append(controls, field("Proposer", select([{value: "all", text: "all"}].concat(proposers.map(function (p) {
        return {value: p, text: p}; })), state.proposer, function (v) { state.proposer = v; render(); }, "discoveries-proposer")));
    }
  }

  function gainChart(list, width) {
    var small = width < 560, labelSize = small ? 11 : 12;
    var left = Math.min(Math.max.apply(null, list.map(function (r) { return textWidth(r.candidate, labelSize); }).concat([60])) + 14,
                        Math.round(width * (small ? 0.42 : 0.3)));
    var right = width - 16, rowH = 24, top = 10, height = top + list.length * rowH, bottom = height + 36;
    var lo = Math.min(0, Math.min.apply(null, list.map(function (r) { return r.gain_lower; })));
    var hi = Math.max(DISCOVERY.threshold || 0, Math.max.apply(null, list.map(function (r) { return r.gain_upper; })));
    hi = hi > lo ? hi : lo + 0.01;
    var x = function (v) { return left + (v - lo) / (hi - lo) * (right - left); };
    var chart = svg("svg", {width: width, height: bottom, viewBox: "0 0 " + width + " " + bottom, role: "img", "class": "chart",
                            id: "discoveries-gains-svg", "aria-label": "Held-out gain of each candidate with its 95% interval"});
    var ticks = 4;
    for (var t = 0; t <= ticks; t++) {
      var v = lo + (hi - lo) * t / ticks;
      chart.appendChild(svg("line", {x1: x(v), x2: x(v), y1: top - 4, y2: height, stroke: "#e6e9ee"}));
      chart.appendChild(svg("text", {x: x(v), y: height + 14, "text-anchor": "middle", "font-size": 11, fill: "#4b5565", "class": "tick"},
        v.toFixed(3)));
    }
    chart.appendChild(svg("line", {x1: x(0), x2: x(0), y1: top - 4, y2: height, stroke: "#5b6472"}));
    if (!missing(DISCOVERY.threshold)) {
      chart.appendChild(tip(svg("line", {x1: x(DISCOVERY.threshold), x2: x(DISCOVERY.threshold), y1: top - 4, y2: height,
        stroke: "#D55E00", "stroke-dasharray": "4 3", "class": "threshold"}), "threshold " + num(DISCOVERY.threshold, 5)));
    }
    chart.appendChild(svg("text", {x: (left + right) / 2, y: height + 30, "text-anchor": "middle", "font-size": 11, fill: "#4b5565"},
      "held-out gain in log-loss per pair"));
    list.forEach(function (r, i) {
      var y = top + i * rowH + rowH / 2, color = r.selected ? KEPT_COLOR : OTHER_COLOR;
      chart.appendChild(svg("text", {x: left - 8, y: y, "text-anchor": "end", "dominant-baseline": "middle", "font-size": labelSize,
        "font-weight": r.selected ? "700" : "400", "class": "row-label"}, r.candidate));
      var g = svg("g", {"class": "mark-group", "data-candidate": r.candidate, "data-gain": r.gain.toFixed(6),
                        "data-selected": r.selected ? "true" : "false"});
      g.appendChild(svg("line", {x1: x(r.gain_lower), x2: x(r.gain_upper), y1: y, y2: y, stroke: color, "stroke-width": 2}));
      g.appendChild(svg("circle", {cx: x(r.gain), cy: y, r: 4.5, fill: r.selected ? color : "#fff", stroke: color, "stroke-width": 2}));
      chart.appendChild(tip(g, r.candidate + " (" + r.proposer + "): gain " + num(r.gain, 4) + " [" + num(r.gain_lower, 4) + ", " +
        num(r.gain_upper, 4) + "]; P(preferred) " + pct(r.p_preferred) + (r.selected ? "; kept" : "")));
    });
    return chart;
  }

  function renderJoint() {
    clear(joint);
    var set = DISCOVERY.set_gain || {};
    if (missing(set.gain)) {
      joint.appendChild(emptyNote("Nothing cleared the threshold, so nothing was kept."));
      return;
    }
    joint.appendChild(el("p", {id: "discoveries-set-gain", text: "Held-out log-loss on the test half: " + num(set.base_log_loss, 4) +
      " with the schema's properties and the model terms, " + num(set.log_loss, 4) + " with the kept set as well; gain " +
      num(set.gain, 4) + " [" + num(set.gain_lower, 4) + ", " + num(set.gain_upper, 4) + "] (95%, over queries)."}));
    var fitted = (DISCOVERY.joint_fit || []);
    joint.appendChild(table([
      {title: "column", value: function (r) { return r.kind === "property" ? label(r.column) : r.column; }},
      {title: "kind", value: function (r) { return r.kind; }},
      {title: "P(preferred)", num: true, value: function (r) { return pct(r.p_preferred, 1); }},
      {title: "95% interval", num: true, value: function (r) { return pct(sigmoid(r.lower), 1) + " \u2013 " + pct(sigmoid(r.upper), 1); }},
      {title: "weight", num: true, value: function (r) { return signed(r.mean, 3); }}
    ], fitted.filter(function (r) { return r.kind === "discovered"; }).concat(fitted.filter(function (r) { return r.kind !== "discovered"; })),
    "The kept candidates first, then the schema's properties and the model terms of the same fit"));
  }

  function render() {
    renderControls();
    var list = rows(), all = DISCOVERIES.filter(tested);
    var by = DISCOVERY.by_proposer || {};
    summary.textContent = "Judge " + (DISCOVERY.judge || "") + ", group " + (DISCOVERY.group || "") + ": proposed on " +
      (DISCOVERY.proposal_pairs || 0) + " pairs, tested on " + (DISCOVERY.test_pairs || 0) + " pairs of other queries; " +
      DISCOVERIES.length + " candidates (" + Object.keys(by).map(function (k) { return by[k] + " " + k; }).join(", ") + "), " +
      all.length + " tested, " + DISCOVERIES.filter(function (r) { return r.selected; }).length + " kept. Threshold " +
      num(DISCOVERY.threshold, 5) + " from " + (DISCOVERY.null_max_gains || []).length + " label shuffles.";
    clear(host);
    if (list.length) { host.appendChild(gainChart(list, chartWidth(host))); }
    else { host.appendChild(emptyNote("No tested candidate to show with these choices.")); }
    clear(below);
    append(below, disclosure("Values (table): every candidate", table([
      {title: "candidate", value: function (r) { return r.candidate; }},
      {title: "proposer", value: function (r) { return r.proposer; }},
      {title: "what it is", value: function (r) { return r.description || ""; }},
      {title: "covers", num: true, value: function (r) { return pct(r.coverage, 0); }},
      {title: "P(preferred) [95%]", num: true, value: function (r) { return missing(r.mean) ? "not tested" : pct(r.p_preferred) + " [" + interval(r) + "]"; }},
      {title: "gain [95%]", num: true, value: function (r) { return missing(r.gain) ? "" : num(r.gain, 4) + " [" + num(r.gain_lower, 4) + ", " + num(r.gain_upper, 4) + "]"; }},
      {title: "nearest property (r)", value: function (r) { return missing(r.nearest_property) ? "" : label(r.nearest_property) + " (" + signed(r.nearest_correlation, 2) + ")"; }},
      {title: "kept", value: function (r) { return r.selected ? "yes" : ""; }}
    ], DISCOVERIES), false));
    renderJoint();
  }

  if (!DISCOVERIES.length) {
    append(panel, emptyNote("No discovery in this study yet: run `prefdissect discover STUDY --out DIR`."));
    return {};
  }
  render();
  return {resize: render};
}
