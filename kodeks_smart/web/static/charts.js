/* SMART dashboards: SVG charts drawn from the JSON the server embeds next to each panel.
 *
 * Kinds: line, area, step, points, bar, stacked. Features: axes with UTC time labels, background bands,
 * a tooltip with every series' value at the hovered time, a legend table with statistics (click a row:
 * show only that series; click again: all; Ctrl/Shift+click: add or remove a series), and drag-to-zoom,
 * which rewrites the page's from/to query parameters (epoch milliseconds) and reloads.
 * Written for this project; no external libraries, works offline.
 */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#0b5cad", "#e8710a", "#2e7d32", "#c62828", "#6a1b9a", "#00838f", "#9e9d24", "#ad1457",
    "#4e342e", "#1565c0", "#ef6c00", "#558b2f", "#5d4037", "#283593", "#00695c", "#f9a825"];
  var BANDS = { ok: "rgba(46,125,50,.10)", warn: "rgba(249,168,37,.16)", crit: "rgba(198,40,40,.10)" };
  var W = 900, H = 260, L = 56, R = 12, T = 10, B = 26;

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    for (var k in attrs) { node.setAttribute(k, attrs[k]); }
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function timeText(ms, withDate) {
    var d = new Date(ms);
    var day = d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
    var hm = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    return withDate ? day + " " + hm : hm;
  }
  function num(v) {
    if (v === null || v === undefined) { return "—"; }
    var a = Math.abs(v);
    if (a >= 1e9) { return (v / 1e9).toFixed(1) + "G"; }
    if (a >= 1e6) { return (v / 1e6).toFixed(1) + "M"; }
    if (a >= 1e4) { return (v / 1e3).toFixed(1) + "k"; }
    return Math.round(v * 100) / 100 + "";
  }

  function draw(box, data) {
    box.innerHTML = "";
    var hidden = box._hidden || {};
    var series = data.series.filter(function (s) { return !hidden[s.name]; });
    if (!data.series.length) {
      box.innerHTML = '<p class="empty">Нет данных за выбранный период</p>';
      return;
    }
    var stacked = data.kind === "stacked";
    var xs = {}, xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
    series.forEach(function (s) {
      s.points.forEach(function (p) {
        var t = p[0] * 1000;
        xmin = Math.min(xmin, t); xmax = Math.max(xmax, t);
        if (p[1] !== null) {
          xs[t] = (xs[t] || 0) + (stacked ? p[1] : 0);
          ymin = Math.min(ymin, p[1]); ymax = Math.max(ymax, p[1]);
        }
      });
    });
    if (stacked) { for (var k in xs) { ymax = Math.max(ymax, xs[k]); } ymin = 0; }
    if (data.x_from !== null && data.x_to !== null && data.x_to > data.x_from) {
      xmin = data.x_from * 1000; xmax = data.x_to * 1000;
    }
    if (!isFinite(xmin)) { xmin = Date.now() - 3600e3; xmax = Date.now(); }
    if (!isFinite(ymin)) { ymin = 0; ymax = 1; }
    if (data.kind === "bar" || data.kind === "area" || stacked) { ymin = Math.min(0, ymin); }
    if (data.y_min !== null) { ymin = data.y_min; }
    if (data.y_max !== null) { ymax = Math.max(data.y_max, ymax); }
    if (ymax === ymin) { ymax = ymin + 1; }
    if (xmax === xmin) { xmin -= 1800e3; xmax += 1800e3; }
    var log = data.log && ymin >= 0;
    function fy(v) {
      if (log) {
        var lo = 0, hi = Math.log2(Math.max(ymax, 2) + 1);
        return T + (H - T - B) * (1 - (Math.log2(Math.max(v, 0) + 1) - lo) / (hi - lo));
      }
      return T + (H - T - B) * (1 - (v - ymin) / (ymax - ymin));
    }
    function fx(t) { return L + (W - L - R) * (t - xmin) / (xmax - xmin); }
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, class: "chart-svg", preserveAspectRatio: "none" }, box);
    (data.bands || []).forEach(function (b) {
      var top = fy(Math.min(b[1], ymax)), bottom = fy(Math.max(b[0], ymin));
      if (bottom > top) { el("rect", { x: L, y: top, width: W - L - R, height: bottom - top, fill: BANDS[b[2]] || "none" }, svg); }
    });
    for (var i = 0; i <= 4; i++) {
      var v = log ? Math.pow(2, Math.log2(Math.max(ymax, 2) + 1) * i / 4) - 1 : ymin + (ymax - ymin) * i / 4;
      var y = fy(v);
      el("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }, svg);
      el("text", { x: L - 4, y: y + 4, class: "axis", "text-anchor": "end" }, svg).textContent = num(v);
    }
    var longRange = xmax - xmin > 36 * 3600e3;
    for (var j = 0; j <= 6; j++) {
      var t = xmin + (xmax - xmin) * j / 6;
      el("text", { x: fx(t), y: H - 8, class: "axis", "text-anchor": "middle" }, svg).textContent =
        longRange ? timeText(t, true).slice(0, 10) : timeText(t, false);
    }
    el("text", { x: 4, y: 12, class: "axis" }, svg).textContent = data.unit || "";
    var base = {}, times = Object.keys(xs).map(Number).sort(function (a, b) { return a - b; });
    var step = times.length > 1 ? (times[times.length - 1] - times[0]) / (times.length - 1) : 3600e3;
    var barW = Math.max(1, (W - L - R) * step / (xmax - xmin + step) * 0.8);
    series.forEach(function (s) {
      var color = COLORS[data.series.indexOf(s) % COLORS.length];
      var pts = s.points.filter(function (p) { return p[1] !== null; });
      if (data.kind === "bar" || stacked) {
        var w = stacked ? barW : barW / Math.max(1, series.length);
        var off = stacked ? 0 : series.indexOf(s) * w;
        pts.forEach(function (p) {
          var t = p[0] * 1000, b0 = stacked ? (base[t] || 0) : 0, top = b0 + p[1];
          if (stacked) { base[t] = top; }
          el("rect", { x: fx(t) - barW / 2 + off, y: fy(top), width: w, height: Math.max(0, fy(b0) - fy(top)), fill: color }, svg);
        });
        return;
      }
      if (data.kind === "points") {
        pts.forEach(function (p) { el("circle", { cx: fx(p[0] * 1000), cy: fy(p[1]), r: 2.5, fill: color }, svg); });
        return;
      }
      var d = "";
      pts.forEach(function (p, n) {
        var x = fx(p[0] * 1000), y = fy(p[1]);
        if (n === 0) { d += "M" + x + " " + y; }
        else if (data.kind === "step") { d += "H" + x + "V" + y; }
        else { d += "L" + x + " " + y; }
      });
      if (!d) { return; }
      if (data.kind === "area" && pts.length) {
        el("path", { d: d + "V" + fy(Math.max(ymin, 0)) + "H" + fx(pts[0][0] * 1000) + "Z", fill: color, opacity: 0.12 }, svg);
      }
      el("path", { d: d, fill: "none", stroke: color, "stroke-width": 1.5 }, svg);
      if (pts.length === 1) { el("circle", { cx: fx(pts[0][0] * 1000), cy: fy(pts[0][1]), r: 2.5, fill: color }, svg); }
    });
    interact(box, svg, data, series, fx, xmin, xmax);
    legend(box, data);
  }

  function interact(box, svg, data, series, fx, xmin, xmax) {
    var tip = document.createElement("div");
    tip.className = "chart-tip";
    box.appendChild(tip);
    var cursor = el("line", { y1: T, y2: H - B, class: "cursor" }, svg);
    var sel = el("rect", { y: T, height: H - T - B, class: "zoom", width: 0 }, svg);
    var startX = null;
    function toX(ev) {
      var r = svg.getBoundingClientRect();
      return (ev.clientX - r.left) * W / r.width;
    }
    function toT(x) { return xmin + (x - L) * (xmax - xmin) / (W - L - R); }
    svg.addEventListener("mousemove", function (ev) {
      var x = toX(ev), t = toT(x);
      cursor.setAttribute("x1", x); cursor.setAttribute("x2", x);
      if (startX !== null) {
        sel.setAttribute("x", Math.min(startX, x)); sel.setAttribute("width", Math.abs(x - startX));
      }
      var lines = [], when = null;
      series.forEach(function (s) {
        var best = null;
        s.points.forEach(function (p) {
          if (p[1] !== null && (best === null || Math.abs(p[0] * 1000 - t) < Math.abs(best[0] * 1000 - t))) { best = p; }
        });
        if (best && Math.abs(best[0] * 1000 - t) <= (xmax - xmin) / 40) {
          when = best[0] * 1000;
          lines.push('<div><i style="background:' + COLORS[data.series.indexOf(s) % COLORS.length] + '"></i>' +
            escapeHtml(s.name) + ": <b>" + num(best[1]) + "</b></div>");
        }
      });
      if (!lines.length) { tip.style.display = "none"; return; }
      tip.innerHTML = "<div>" + timeText(when, true) + " UTC</div>" + lines.slice(0, 15).join("") +
        (lines.length > 15 ? "<div>… ещё " + (lines.length - 15) + "</div>" : "");
      tip.style.display = "block";
      var r = svg.getBoundingClientRect();
      tip.style.left = Math.min(ev.clientX - r.left + 12, r.width - 260) + "px";
      tip.style.top = (ev.clientY - r.top + 12) + "px";
    });
    svg.addEventListener("mouseleave", function () { tip.style.display = "none"; startX = null; sel.setAttribute("width", 0); });
    svg.addEventListener("mousedown", function (ev) { startX = toX(ev); ev.preventDefault(); });
    svg.addEventListener("mouseup", function (ev) {
      if (startX === null) { return; }
      var a = toT(Math.min(startX, toX(ev))), b = toT(Math.max(startX, toX(ev)));
      startX = null;
      sel.setAttribute("width", 0);
      if (b - a < (xmax - xmin) / 100 || b - a < 60e3) { return; }
      zoom(Math.floor(a), Math.ceil(b));
    });
  }

  function zoom(fromMs, toMs) {
    var params = new URLSearchParams(location.search);
    params.delete("range"); params.delete("p"); params.delete("refresh");
    params.set("from", String(fromMs)); params.set("to", String(toMs));
    location.search = params.toString();
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function legend(box, data) {
    var table = document.createElement("table");
    table.className = "legend";
    var head = "<thead><tr><th>Серия</th>";
    data.legend.forEach(function (c) { head += "<th>" + escapeHtml(c[1]) + "</th>"; });
    table.innerHTML = head + "</tr></thead>";
    var body = document.createElement("tbody");
    var hidden = box._hidden || {};
    data.series.forEach(function (s, n) {
      var tr = document.createElement("tr");
      if (hidden[s.name]) { tr.className = "off"; }
      var html = '<td><i style="background:' + COLORS[n % COLORS.length] + '"></i>' + escapeHtml(s.name) + "</td>";
      data.legend.forEach(function (c) { html += "<td>" + num(s.stats[c[0]]) + "</td>"; });
      tr.innerHTML = html;
      tr.addEventListener("click", function (ev) {
        var h = box._hidden || {};
        var names = data.series.map(function (x) { return x.name; });
        if (ev.ctrlKey || ev.shiftKey || ev.metaKey) {
          if (h[s.name]) { delete h[s.name]; } else { h[s.name] = true; }
        } else {
          var onlyThis = !h[s.name] && names.every(function (x) { return x === s.name || h[x]; });
          h = {};
          if (!onlyThis) { names.forEach(function (x) { if (x !== s.name) { h[x] = true; } }); }
        }
        box._hidden = h;
        draw(box, data);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    box.appendChild(table);
    if (data.hidden) {
      var note = document.createElement("p");
      note.className = "note";
      note.textContent = "Показаны " + data.series.length + " серий с наибольшими значениями; ещё " + data.hidden +
        " скрыто — сузьте фильтры.";
      box.appendChild(note);
    }
  }

  function init() {
    document.querySelectorAll("script.chart-data").forEach(function (script) {
      var box = document.querySelector('.chart[data-chart="' + script.getAttribute("data-for") + '"]');
      if (box) { draw(box, JSON.parse(script.textContent)); }
    });
    var preset = document.querySelector("[data-time-preset]");
    if (preset) {
      preset.addEventListener("change", function () {
        document.querySelectorAll("[data-time-from],[data-time-to]").forEach(function (i) { i.value = ""; });
      });
    }
    document.querySelectorAll("select[data-filter]").forEach(function (s) {
      s.addEventListener("change", function () {
        var all = s.querySelector('option[value="__all__"]');
        var others = Array.prototype.filter.call(s.options, function (o) { return o.selected && o !== all; });
        if (all && all.selected && others.length && s._lastAll) { all.selected = false; }
        else if (all && all.selected && !s._lastAll) { others.forEach(function (o) { o.selected = false; }); }
        s._lastAll = all ? all.selected : false;
      });
      var a = s.querySelector('option[value="__all__"]');
      s._lastAll = a ? a.selected : false;
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
  window.SmartCharts = { draw: draw, zoom: zoom };
})();
