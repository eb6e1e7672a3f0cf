/* optimizer plan map: townships, boundaries, names and facility symbols drawn from one data
 * object per map (optimizer/outputs/maps.py writes it). Canvas rendering throughout; symbols
 * are thinned so that none overlap at any zoom; names appear as one zooms in.
 * Licence: the package's own (MIT). No network, no other library than Leaflet. */
(function () {
  "use strict";

  function esc(v) {
    if (v === null || v === undefined) { return ""; }
    return String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#x27;");
  }
  function fmtInt(v, unit) {
    if (v === null || v === undefined || isNaN(v)) { return "—"; }
    return Math.round(v).toLocaleString("en-US") + (unit || "");
  }
  function fmtKm(v) {
    return (v === null || v === undefined || isNaN(v)) ? "—" : v.toFixed(1) + " km";
  }
  function table(rows) {
    return "<table class=\"plan-tip\">" + rows.map(function (r) {
      return "<tr><th>" + r[0] + "</th><td>" + r[1] + "</td></tr>";
    }).join("") + "</table>";
  }

  /* A facility symbol on the canvas: circle (派出所), square (司法所) or diamond (人民法庭). */
  var Symbol = L.CircleMarker.extend({
    _updatePath: function () {
      var rd = this._renderer;
      if (!rd._drawing || this._empty()) { return; }
      var p = this._point, ctx = rd._ctx, r = Math.max(this._radius, 1);
      ctx.beginPath();
      if (this.options.shape === "square") {
        ctx.rect(p.x - r, p.y - r, 2 * r, 2 * r);
      } else if (this.options.shape === "diamond") {
        var d = r * 1.25;
        ctx.moveTo(p.x, p.y - d); ctx.lineTo(p.x + d, p.y); ctx.lineTo(p.x, p.y + d);
        ctx.lineTo(p.x - d, p.y); ctx.closePath();
      } else {
        ctx.arc(p.x, p.y, r, 0, Math.PI * 2, false);
      }
      rd._fillStroke(ctx, this);
    }
  });

  function radiusFor(zoom) { return Math.max(2, Math.min(7, 2 + (zoom - 7) * 1.25)); }

  window.optimizerPlanMap = function (map, D) {
    var state = { type: 0, mode: "plan" }; // mode: "plan" (proposal) or "today"
    var T = D.townships.features, F = D.facilities;
    function pane(name, z) {
      map.createPane(name).style.zIndex = z;
      return L.canvas({ pane: name, padding: 0.3 });
    }
    // townships under Leaflet's overlay pane (400), so that layers added to a map lie above them
    var rTown = pane("plan-townships", 350), rBound = pane("plan-bounds", 410);
    var rSym = pane("plan-symbols", 420);
    map.createPane("plan-labels").style.zIndex = 430;
    map.getPane("plan-labels").style.pointerEvents = "none";

    function fillOf(p) {
      var i = (state.mode === "plan" ? p.fp : p.ft)[state.type];
      return i < 0 ? D.unserved : D.palette[i];
    }
    function townStyle(f) {
      var z = map.getZoom();
      return { fillColor: fillOf(f.properties), fillOpacity: D.opacity, color: "#666",
        weight: z < 8 ? 0.25 : z < 10 ? 0.5 : 0.9, opacity: z < 8 ? 0.5 : 0.8 };
    }
    function facilityName(j) { return j < 0 ? "未分配" : esc(F.name[j]); }
    function townTip(layer) {
      var p = layer.feature.properties, t = state.type, ty = D.types[t];
      var served = state.mode === "plan" ? p.s[t] : p.b[t];
      var rows = [["乡镇名称", "<b>" + esc(p.n) + "</b>"], ["乡镇代码", esc(p.c)],
        ["所属区县", esc(D.countyNames[p.k])], ["常住人口", fmtInt(p.p, " 人")],
        ["警情", fmtInt(p.i, " 起/年")]];
      if (ty.key !== "police_station" && p.cs !== undefined) {
        rows.push(["案件数", fmtInt(p.cs, " 件/年")]);
      }
      rows.push([(state.mode === "plan" ? "方案" : "现状") + ty.label, facilityName(served)]);
      rows.push(["距离", fmtKm(state.mode === "plan" ? p.d[t] : p.db[t])]);
      var m = p.m[t], mb = p.mb[t];
      if (m !== null && state.mode === "plan") {
        rows.push(["时间", m.toFixed(0) + " 分钟" + (mb !== null ? "（调整前 " + mb.toFixed(0) + " 分钟）" : "")]);
      } else if (mb !== null && state.mode === "today") {
        rows.push(["时间", mb.toFixed(0) + " 分钟"]);
      }
      return table(rows);
    }
    var towns = L.geoJSON(D.townships, {
      renderer: rTown, pane: "plan-townships", style: townStyle,
      onEachFeature: function (f, layer) {
        layer.bindTooltip(townTip, { sticky: true, className: "plan-tooltip" });
      }
    }).addTo(map);
    var townLayers = towns.getLayers();

    function outline(fc, colour, weight) {
      return L.geoJSON(fc, { renderer: rBound, pane: "plan-bounds", interactive: false,
        style: { fill: false, color: colour, weight: weight, opacity: 0.9 } }).addTo(map);
    }
    outline(D.counties, "#3c3c3c", 1.1);
    outline(D.prefectures, "#111111", 2.4);

    /* facility symbols, thinned so that none overlap */
    var symbols = L.layerGroup().addTo(map);
    function facilityTip(j, hidden) {
      var ty = D.types[F.type[j]], st = state.mode === "plan" ? F.state[j] : 1;
      var lines = ["<b>" + esc(F.name[j]) + "</b>", ty.label + " · 编号 " + esc(F.id[j])];
      if (state.mode === "plan") {
        var text = st === 2 ? "保留（中心" + ty.label + "）" : st === 1 ? "保留"
          : (F.becomes[j] ? "撤并，" + esc(F.becomes[j]) : "撤并");
        lines.push("决定：" + text);
        if (F.served[j] !== null) { lines.push("服务乡镇：" + fmtInt(F.served[j]) + " 个"); }
        if (F.reason && F.reason[j]) { lines.push("理由：" + esc(F.reason[j])); }
      } else {
        lines.push("现状：在用");
      }
      if (hidden > 0) { lines.push("<i>附近另有 " + hidden + " 个机构，放大查看</i>"); }
      return "<div class=\"plan-tip\">" + lines.join("<br>") + "</div>";
    }
    function drawSymbols() {
      symbols.clearLayers();
      var z = map.getZoom(), r = radiusFor(z), big = r + 1.5, cell = 2 * big + 2;
      var bounds = map.getBounds().pad(0.1), ty = D.types[state.type];
      var grid = {}, placed = [], hidden = {}, minGap = Infinity;
      var order = F.order[state.type];
      for (var k = 0; k < order.length; k++) {
        var j = order[k];
        var ll = L.latLng(F.lat[j], F.lon[j]);
        if (!bounds.contains(ll)) { continue; }
        var pt = map.project(ll, z), gx = Math.floor(pt.x / cell), gy = Math.floor(pt.y / cell);
        var clash = -1;
        for (var dx = -1; dx <= 1 && clash < 0; dx++) {
          for (var dy = -1; dy <= 1 && clash < 0; dy++) {
            var c = grid[(gx + dx) + ":" + (gy + dy)];
            if (!c) { continue; }
            for (var q = 0; q < c.length; q++) {
              var o = placed[c[q]];
              if (o.pt.distanceTo(pt) < cell) { clash = c[q]; break; }
            }
          }
        }
        if (clash >= 0) { hidden[clash] = (hidden[clash] || 0) + 1; continue; }
        for (var q2 = 0; q2 < placed.length && placed.length < 400; q2++) {
          minGap = Math.min(minGap, placed[q2].pt.distanceTo(pt) - 2 * big);
        }
        var key = gx + ":" + gy;
        (grid[key] = grid[key] || []).push(placed.length);
        placed.push({ j: j, pt: pt, ll: ll });
      }
      placed.forEach(function (o, n) {
        var st = state.mode === "plan" ? F.state[o.j] : 1;
        var closed = st === 0;
        var s = new Symbol(o.ll, {
          renderer: rSym, pane: "plan-symbols", shape: ty.shape,
          radius: st === 2 ? big : closed ? Math.max(r - 0.5, 1.5) : r,
          color: closed ? D.closedColour : "#ffffff", weight: closed ? 1.5 : 1,
          fillColor: closed ? "#ffffff" : ty.colour, fillOpacity: 1, opacity: 1,
          dashArray: closed && r >= 4 ? "3 2" : null
        });
        var h = hidden[n] || 0;
        s.bindTooltip(function () { return facilityTip(o.j, h); }, { className: "plan-tooltip" });
        symbols.addLayer(s);
      });
      document.body.setAttribute("data-plan-symbols", String(placed.length));
      document.body.setAttribute("data-plan-zoom", String(z));
      document.body.setAttribute("data-plan-hidden", String(Object.keys(hidden).reduce(
        function (a, k2) { return a + hidden[k2]; }, 0)));
      document.body.setAttribute("data-plan-min-gap",
        minGap === Infinity ? "none" : minGap.toFixed(2));
    }

    /* names: prefectures at province zoom, counties and townships as one zooms in */
    var labels = L.layerGroup().addTo(map);
    function drawLabels() {
      labels.clearLayers();
      var z = map.getZoom(), b = map.getBounds(), boxes = [], shown = 0;
      var sets = [];
      if (z < 9) { sets.push([D.labels.prefecture, "plan-label-prefecture", 15]); }
      if (z >= 7.75) { sets.push([D.labels.county, "plan-label-county", 13]); }
      if (z >= 10) { sets.push([D.labels.township, "plan-label-township", 11]); }
      sets.forEach(function (set) {
        set[0].forEach(function (lab) {
          var ll = L.latLng(lab[0], lab[1]);
          if (!b.contains(ll)) { return; }
          var pt = map.latLngToContainerPoint(ll), w = lab[2].length * set[2] + 6, h = set[2] + 6;
          var box = [pt.x - w / 2, pt.y - h / 2, pt.x + w / 2, pt.y + h / 2];
          for (var i = 0; i < boxes.length; i++) {
            var o = boxes[i];
            if (box[0] < o[2] && o[0] < box[2] && box[1] < o[3] && o[1] < box[3]) { return; }
          }
          boxes.push(box);
          shown++;
          labels.addLayer(L.marker(ll, { pane: "plan-labels", interactive: false, keyboard: false,
            icon: L.divIcon({ className: "plan-label " + set[1], html: esc(lab[2]),
              iconSize: [w, h], iconAnchor: [w / 2, h / 2] }) }));
        });
      });
      document.body.setAttribute("data-plan-labels", String(shown));
    }

    /* the panel: summary, type and layout switches, township search */
    var panel = L.control({ position: "topright" });
    panel.onAdd = function () {
      var div = L.DomUtil.create("div", "plan-panel");
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      var s = D.summary, html = "<div class=\"plan-panel-title\">方案概要</div>";
      if (s.checks) {
        html += "<div class=\"plan-checks\">规则检查：<span class=\"ok\">符合 " + s.checks.met +
          "</span> · <span class=\"ex\">有例外 " + s.checks.exceptions + "</span> · " +
          "<span class=\"no\">未符合 " + s.checks.not_met + "</span></div>";
      }
      html += "<table class=\"plan-counts\"><tr><th></th><th>现有</th><th>保留</th><th>撤并</th></tr>";
      D.types.forEach(function (ty, i) {
        html += "<tr><td><label><input type=\"radio\" name=\"plan-type\" value=\"" + i + "\"" +
          (i === 0 ? " checked" : "") + "> " + ty.label + "</label></td><td>" +
          fmtInt(s.types[i][0]) + "</td><td>" + fmtInt(s.types[i][1]) + "</td><td>" +
          fmtInt(s.types[i][2]) + "</td></tr>";
      });
      html += "</table><div class=\"plan-modes\">布局：" +
        "<label><input type=\"radio\" name=\"plan-mode\" value=\"plan\" checked> 调整方案</label> " +
        "<label><input type=\"radio\" name=\"plan-mode\" value=\"today\"> 现状</label></div>" +
        "<input class=\"plan-search\" type=\"search\" placeholder=\"搜索乡镇名称或代码\">" +
        "<div class=\"plan-results\"></div>";
      div.innerHTML = html;
      div.addEventListener("change", function (e) {
        if (e.target.name === "plan-type") { state.type = Number(e.target.value); }
        if (e.target.name === "plan-mode") { state.mode = e.target.value; }
        refresh();
      });
      var input = div.querySelector(".plan-search"), out = div.querySelector(".plan-results");
      input.addEventListener("input", function () { search(input.value, out); });
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter") {
          var first = out.querySelector("a");
          if (first) { first.click(); }
        }
      });
      return div;
    };
    panel.addTo(map);

    var highlighted = null;
    function search(text, out) {
      var q = String(text).trim(), hits = [];
      if (q) {
        for (var i = 0; i < T.length && hits.length < 10; i++) {
          var p = T[i].properties;
          if (String(p.n).indexOf(q) >= 0 || String(p.c).indexOf(q) === 0) { hits.push(i); }
        }
      }
      out.innerHTML = hits.map(function (i) {
        var p = T[i].properties;
        return "<a href=\"#\" data-i=\"" + i + "\">" + esc(p.n) + "（" + esc(p.c) + "）" +
          esc(D.countyNames[p.k]) + "</a>";
      }).join("") + (q && !hits.length ? "<div>没有找到</div>" : "");
      Array.prototype.forEach.call(out.querySelectorAll("a"), function (a) {
        a.addEventListener("click", function (e) {
          e.preventDefault();
          goTo(Number(a.getAttribute("data-i")));
        });
      });
      document.body.setAttribute("data-plan-search-hits", String(hits.length));
    }
    function goTo(i) {
      var layer = townLayers[i];
      if (highlighted) { towns.resetStyle(highlighted); }
      highlighted = layer;
      map.fitBounds(layer.getBounds(), { maxZoom: 11, padding: [40, 40], animate: false });
      layer.setStyle({ weight: 3.5, color: "#000000", opacity: 1 });
      layer.bringToFront();
      layer.openTooltip(layer.getBounds().getCenter());
      document.body.setAttribute("data-plan-found", String(T[i].properties.c));
    }

    function refresh() {
      towns.setStyle(townStyle);
      if (highlighted) { highlighted.setStyle({ weight: 3.5, color: "#000000", opacity: 1 }); }
      drawSymbols();
    }
    var lastZoom = map.getZoom();
    map.on("zoomend", function () {
      if (map.getZoom() !== lastZoom) { lastZoom = map.getZoom(); towns.setStyle(townStyle); }
    });
    map.on("moveend", function () { drawSymbols(); drawLabels(); });
    map.whenReady(function () {
      // fit without animation: an animated zoom still running would swallow a later setView
      map.fitBounds(D.bounds, { padding: [20, 20], animate: false });
      drawSymbols();
      drawLabels();
      var q = /[#&]q=([^&]*)/.exec(window.location.hash || "");
      // a link such as map.html#q=名山 opens the map at that township (once the page is set up)
      if (q) { setTimeout(function () { openHash(q); }, 0); }
    });
    function openHash(q) {
      {
        var input = map.getContainer().querySelector(".plan-search");
        input.value = decodeURIComponent(q[1]);
        search(input.value, map.getContainer().querySelector(".plan-results"));
        var first = map.getContainer().querySelector(".plan-results a");
        if (first) { first.click(); }
      }
    }
    map.planMap = { setType: function (i) { state.type = i; refresh(); },
      setMode: function (m) { state.mode = m; refresh(); }, search: search, goTo: goTo };
    document.body.setAttribute("data-plan-ready", "1");
  };
})();
