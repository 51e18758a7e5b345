/* prefdissect report, part 5 of 6: the leaderboard (from `prefdissect scores`).
   Each model's raw win rate beside its controlled one (the judge's tastes held fixed),
   and raw - controlled split into points per property, as diverging stacked bars. */

var SCORES = DATA.scores.rows, COMPONENTS = DATA.score_components.rows, FAMILIES = DATA.families.rows;
var UNEXPLAINED = "unexplained";
var PART_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#882255", "#999933"];

function leaderboardView(panel) {
  var judges = [];
  SCORES.forEach(function (r) { if (judges.indexOf(r.judge) < 0) { judges.push(r.judge); } });
  var state = {judge: judges[0], sort: "controlled"};
  var controls = el("div", {class: "controls", id: "leaderboard-controls"});
  var note = el("p", {class: "muted small", id: "leaderboard-note"});
  var rates = el("div", {class: "card chart-host", id: "leaderboard-rates"});
  var parts = el("div", {class: "card chart-host", id: "leaderboard-parts"});
  var below = el("div", {id: "leaderboard-below"});
  append(panel, [el("p", {class: "lede", text: "Raw win rate (hollow): what the judge gave each model. Controlled win rate " +
    "(filled): what the fitted model predicts with the responses made equal on the controlled properties \u2014 the " +
    "model's quality with the judge's tastes held fixed. Lines are 95% intervals."}), controls, note, rates,
    el("h2", {class: "small-heading", text: "Where raw \u2212 controlled comes from (percentage points)"}), parts, below]);

  function rows() {
    var mine = SCORES.filter(function (r) { return r.judge === state.judge; });
    // a model with no controlled score (none of its pairs in the model) goes last
    var key = function (r) { return missing(r[state.sort]) ? -Infinity : r[state.sort]; };
    return mine.sort(function (a, b) { return key(b) - key(a); });
  }
  function partsOf(model) {
    return COMPONENTS.filter(function (c) { return c.judge === state.judge && c.model === model; });
  }
  function names() {  // components by total size, largest first; the unexplained rest last
    var total = {};
    COMPONENTS.filter(function (c) { return c.judge === state.judge && c.component !== UNEXPLAINED; }).forEach(function (c) {
      total[c.component] = (total[c.component] || 0) + Math.abs(c.points);
    });
    return Object.keys(total).sort(function (a, b) { return total[b] - total[a]; });
  }

  function renderControls() {
    clear(controls);
    if (judges.length > 1) {
      append(controls, field("Judge", select(judges.map(function (j) { return {value: j, text: j}; }), state.judge,
        function (v) { state.judge = v; render(); }, "leaderboard-judge")));
    }
    append(controls, field("Rank by", select([{value: "controlled", text: "controlled win rate"}, {value: "raw", text: "raw win rate"}],
      state.sort, function (v) { state.sort = v; render(); }, "leaderboard-sort")));
  }

  function ratesChart(list, width) {
    var small = width < 560, labelSize = small ? 11 : 12;
    var left = Math.min(Math.max.apply(null, list.map(function (r) { return textWidth(r.model, labelSize); }).concat([60])) + 14,
                        Math.round(width * (small ? 0.38 : 0.3)));
    var right = width - 20, rowH = 26, top = 10, height = top + list.length * rowH, bottom = height + 34;
    var hi = Math.min(100, Math.ceil((Math.max.apply(null, list.map(function (r) { return Math.max(r.raw_upper, r.controlled_upper); })) + 5) / 10) * 10);
    var x = function (v) { return left + Math.max(0, Math.min(hi, v)) / hi * (right - left); };
    var chart = svg("svg", {width: width, height: bottom, viewBox: "0 0 " + width + " " + bottom, role: "img", "class": "chart",
                            id: "leaderboard-rates-svg", "aria-label": "Raw and controlled win rate of each model, " + state.judge});
    for (var t = 0; t <= hi + 1e-9; t += hi > 50 ? 20 : 10) {
      chart.appendChild(svg("line", {x1: x(t), x2: x(t), y1: top - 4, y2: height, stroke: "#e6e9ee"}));
      chart.appendChild(svg("text", {x: x(t), y: height + 14, "text-anchor": "middle", "font-size": 11, fill: "#4b5565", "class": "tick"}, t + "%"));
    }
    list.forEach(function (r, i) {
      var y = top + i * rowH + rowH / 2;
      if (i % 2 === 0) { chart.appendChild(svg("rect", {x: 0, y: y - rowH / 2, width: width, height: rowH, fill: "#f6f7f9"})); }
      chart.appendChild(svg("text", {x: left - 8, y: y, "text-anchor": "end", "dominant-baseline": "middle", "font-size": labelSize,
                                     "class": "row-label"}, r.model));
      var g = svg("g", {"class": "mark-group", "data-model": r.model, "data-raw": r.raw.toFixed(4),
                        "data-controlled": missing(r.controlled) ? "" : r.controlled.toFixed(4)});
      g.appendChild(svg("line", {x1: x(r.raw_lower), x2: x(r.raw_upper), y1: y - 4, y2: y - 4, stroke: "#5b6472", "stroke-width": 2.5}));
      g.appendChild(svg("circle", {cx: x(r.raw), cy: y - 4, r: 4.5, fill: "#fff", stroke: "#5b6472", "stroke-width": 2, "class": "mark raw"}));
      if (!missing(r.controlled)) {
        g.appendChild(svg("line", {x1: x(r.controlled_lower), x2: x(r.controlled_upper), y1: y + 4, y2: y + 4, stroke: "#0072B2", "stroke-width": 3.5}));
        g.appendChild(svg("circle", {cx: x(r.controlled), cy: y + 4, r: 4.5, fill: "#0072B2", "class": "mark controlled"}));
      }
      tip(g, r.model + ": raw " + num(r.raw, 1) + "% [" + num(r.raw_lower, 1) + ", " + num(r.raw_upper, 1) + "], " +
        (missing(r.controlled) ? "no controlled score (none of its pairs entered the model)" :
         "controlled " + num(r.controlled, 1) + "% [" + num(r.controlled_lower, 1) + ", " + num(r.controlled_upper, 1) + "]"));
      chart.appendChild(g);
    });
    return chart;
  }

  function partsChart(list, order, colors, width) {
    var small = width < 560, labelSize = small ? 11 : 12;
    var left = Math.min(Math.max.apply(null, list.map(function (r) { return textWidth(r.model, labelSize); }).concat([60])) + 14,
                        Math.round(width * (small ? 0.38 : 0.3)));
    var right = width - 20, rowH = 24, top = 10, height = top + list.length * rowH, bottom = height + 34;
    var reach = 1;
    list.forEach(function (r) {
      var pos = 0, neg = 0;
      partsOf(r.model).forEach(function (c) { if (c.points > 0) { pos += c.points; } else { neg -= c.points; } });
      reach = Math.max(reach, pos, neg);
    });
    reach = Math.ceil(reach / 5) * 5;
    var x = function (v) { return left + (v + reach) / (2 * reach) * (right - left); };
    var chart = svg("svg", {width: width, height: bottom, viewBox: "0 0 " + width + " " + bottom, role: "img", "class": "chart",
                            id: "leaderboard-parts-svg", "aria-label": "Raw minus controlled win rate of each model, split by property"});
    var step = reach > 20 ? 10 : 5;
    for (var t = -reach; t <= reach + 1e-9; t += step) {
      chart.appendChild(svg("line", {x1: x(t), x2: x(t), y1: top - 4, y2: height, stroke: t === 0 ? "#5b6472" : "#e6e9ee"}));
      chart.appendChild(svg("text", {x: x(t), y: height + 14, "text-anchor": "middle", "font-size": 11, fill: "#4b5565", "class": "tick"},
        (t > 0 ? "+" : "") + t));
    }
    list.forEach(function (r, i) {
      var y = top + i * rowH, pos = 0, neg = 0;
      chart.appendChild(svg("text", {x: left - 8, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "middle",
                                     "font-size": labelSize, "class": "row-label"}, r.model));
      var mine = partsOf(r.model);
      mine.sort(function (a, b) { return order.indexOf(a.component) - order.indexOf(b.component); });
      mine.forEach(function (c) {
        if (!c.points) { return; }
        var from = c.points > 0 ? pos : -neg - Math.abs(c.points), to = from + Math.abs(c.points);
        if (c.points > 0) { pos += c.points; } else { neg -= c.points; }
        var fill = c.component === UNEXPLAINED ? "#c8ced6" : (colors[c.component] || "#9aa3b0");
        chart.appendChild(tip(svg("rect", {x: x(from), y: y + 4, width: Math.max(0.5, x(to) - x(from)), height: rowH - 8, fill: fill,
                                           "class": "part", "data-model": r.model, "data-component": c.component,
                                           "data-points": c.points.toFixed(4)}),
          r.model + ", " + componentLabel(c.component) + ": " + signed(c.points, 2) + " points"));
      });
      if (missing(r.controlled)) { return; }
      var net = r.raw - r.controlled;
      chart.appendChild(tip(svg("line", {x1: x(net), x2: x(net), y1: y + 1, y2: y + rowH - 1, stroke: "#1d2430", "stroke-width": 2,
                                         "class": "net"}), r.model + ": raw \u2212 controlled " + signed(net, 2) + " points"));
    });
    return chart;
  }

  function block(color) {
    var icon = svg("svg", {width: 12, height: 12, viewBox: "0 0 12 12", "aria-hidden": "true", "class": "swatch"});
    icon.appendChild(svg("rect", {x: 0, y: 0, width: 12, height: 12, rx: 2, fill: color}));
    return icon;
  }
  function componentLabel(name) { return name === UNEXPLAINED ? "unexplained (raw \u2212 fitted)" : label(name); }

  function render() {
    renderControls();
    var list = rows(), order = names(), colors = {};
    order.slice(0, PART_COLORS.length).forEach(function (n, k) { colors[n] = PART_COLORS[k]; });
    order.push(UNEXPLAINED);
    var controlled = order.filter(function (n) { return n !== UNEXPLAINED; }).map(label);
    note.textContent = list.length + " models; controlled properties: " + controlled.join(", ") +
      ". Raw intervals come from the pairs, controlled ones from the posterior.";
    clear(rates);
    rates.appendChild(ratesChart(list, chartWidth(rates)));
    append(rates, el("div", {class: "legend"}, el("div", {class: "legend-row"},
      el("span", {class: "legend-item"}, "\u25cb raw win rate (95% interval from the pairs)"),
      el("span", {class: "legend-item"}, "\u25cf controlled win rate (95% interval from the posterior)"))));
    clear(parts);
    parts.appendChild(partsChart(list, order, colors, chartWidth(parts)));
    var row = el("div", {class: "legend-row"});
    var others = order.filter(function (n) { return n !== UNEXPLAINED && !colors[n]; });
    order.filter(function (n) { return colors[n] || n === UNEXPLAINED; }).forEach(function (n) {
      append(row, el("span", {class: "legend-item"}, block(n === UNEXPLAINED ? "#c8ced6" : colors[n]), componentLabel(n)));
    });
    if (others.length) { append(row, el("span", {class: "legend-item"}, block("#9aa3b0"), "other properties: " + others.map(label).join(", "))); }
    var legend = el("div", {class: "legend", id: "leaderboard-legend"}, row);
    append(parts, [legend, el("p", {class: "muted small", text: "Bars right of zero raised the raw rate above the controlled " +
      "one, bars left lowered it; the black tick is the net difference. Each pair's change is shared among the properties " +
      "by the Aumann\u2013Shapley rule, so the parts add up exactly."})]);
    clear(below);
    var columns = [
      {title: "#", num: true, value: function (r) { return String(list.indexOf(r) + 1); }},
      {title: "model", value: function (r) { return r.model; }},
      {title: "raw", num: true, value: function (r) { return num(r.raw, 1) + " [" + num(r.raw_lower, 1) + ", " + num(r.raw_upper, 1) + "]"; }},
      {title: "controlled", num: true, value: function (r) {
        return missing(r.controlled) ? "none" : num(r.controlled, 1) + " [" + num(r.controlled_lower, 1) + ", " + num(r.controlled_upper, 1) + "]"; }},
      {title: "raw \u2212 controlled", num: true, value: function (r) { return missing(r.controlled) ? "" : signed(r.raw - r.controlled, 1); }}];
    if (list.some(function (r) { return !missing(r.published_lc); })) {
      columns.push({title: "published LC", num: true, value: function (r) { return num(r.published_lc, 1); }});
    }
    order.forEach(function (n) {
      columns.push({title: componentLabel(n), num: true, value: function (r) {
        var c = partsOf(r.model).filter(function (x) { return x.component === n; })[0];
        return c ? signed(c.points, 2) : "";
      }});
    });
    append(below, disclosure("Values (table)", table(columns, list), false));
    var families = FAMILIES.filter(function (f) { return f.judge === state.judge; });
    if (families.length) {
      var fcols = [
        {title: "family", value: function (f) { return f.family; }},
        {title: "variants", value: function (f) { return f.models; }},
        {title: "raw spread", num: true, value: function (f) { return num(f.raw_spread, 3); }},
        {title: "controlled spread", num: true, value: function (f) { return num(f.controlled_spread, 3); }}];
      if (families.some(function (f) { return !missing(f.published_lc_spread); })) {
        fcols.push({title: "published LC spread", num: true, value: function (f) { return num(f.published_lc_spread, 3); }});
      }
      append(below, [el("h2", {class: "small-heading", text: "Families: one model prompted differently"}),
        el("p", {class: "muted small", text: "Spread = sd / mean of the variants' scores: a score that prompting for style " +
          "cannot move has a small controlled spread."}), table(fcols, families)]);
    }
  }

  render();
  return {resize: render};
}
