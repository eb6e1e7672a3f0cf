/* optimizer plan map, grassroots layers (issue 14): the 网格 (grids, those outside their
 * household bounds in red) and 村（社区） (village) outlines, drawn on a canvas in their own pane
 * above the townships, off at start, switched in a Leaflet layer control.
 * Licence: the package's own (MIT). No network, no other library than Leaflet. */
(function () {
  "use strict";
  window.optimizerGrassrootsLayers = function (map, D) {
    map.createPane("plan-grassroots").style.zIndex = 405;
    var r = L.canvas({ pane: "plan-grassroots", padding: 0.3 });
    function tip(layer) {
      var div = document.createElement("div");
      div.textContent = layer.feature.properties.t;
      return div;
    }
    var overlays = {};
    if (D.grids) {
      overlays[D.gridsName] = L.geoJSON(D.grids, { renderer: r, pane: "plan-grassroots",
        style: function (f) {
          return { color: f.properties.o ? "#d62728" : "#1f77b4", weight: 1, fillOpacity: 0.05 };
        },
        onEachFeature: function (f, layer) { layer.bindTooltip(tip, { sticky: true }); } });
    }
    if (D.villages) {
      overlays["村（社区）"] = L.geoJSON(D.villages, { renderer: r, pane: "plan-grassroots",
        style: { color: "#2ca02c", weight: 1.5, fillOpacity: 0 },
        onEachFeature: function (f, layer) { layer.bindTooltip(tip, { sticky: true }); } });
    }
    L.control.layers(null, overlays, { collapsed: false, position: "bottomright" }).addTo(map);
    document.body.setAttribute("data-plan-grassroots", String(Object.keys(overlays).length));
  };
})();
