/*
 * Ward-standard map: draws the layers that geo/webmap.py embeds as JSON.
 *
 * Every attribute value reaches the page as text (textContent / text nodes);
 * the only strings given to Leaflet as HTML (layer-switcher names) are escaped.
 * Styling is computed here from one property per feature, never per feature id.
 */
(function (global) {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function bi(label) {
    return label[1] ? label[0] + " / " + label[1] : label[0];
  }

  function escapeHtml(text) {
    var map = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
    return String(text).replace(/[&<>"']/g, function (c) { return map[c]; });
  }

  function withUnit(value, unit) {
    return unit ? value + " " + unit : value;
  }

  /* ---- popups --------------------------------------------------------- */

  function row(table, label, value, valueClass) {
    var tr = el("tr");
    tr.appendChild(el("th", null, label));
    tr.appendChild(el("td", valueClass || null, value));
    table.appendChild(tr);
  }

  function statusBadge(data, status) {
    var badge = el("span", "wm-badge", bi(data.status.labels[status]));
    badge.style.background = data.status.colors[status];
    return badge;
  }

  function verdictLine(data, status) {
    var line = el("div", "wm-verdict", bi(data.ui.verdict) + ": ");
    line.appendChild(statusBadge(data, status));
    return line;
  }

  function indicatorTable(data, columns, props) {
    var table = el("table", "wm-ind");
    columns.forEach(function (col, i) {
      var value = props.iv[i];
      if (value === null) {
        row(table, bi(col), bi(data.ui.noData), "wm-na");
      } else {
        row(table, bi(col), withUnit(value, col[2]));
      }
    });
    if (props.ps) {
      row(table, bi(data.ui.populationSource), props.ps);
    }
    return table;
  }

  function criterionCells(data, tr, c) {
    var name = el("td", "wm-crit-name", c.vi);
    if (c.en) {
      name.appendChild(el("div", "wm-en", c.en));
    }
    tr.appendChild(name);
    tr.appendChild(el("td", c.val === null ? "wm-na" : null,
      c.val === null ? bi(data.ui.noData) : withUnit(c.val, c.uom)));
    var thr = el("td", null, c.thr === null ? "—" : withUnit(c.op + " " + c.thr, c.uom));
    if (c.conf !== "verified") {
      thr.appendChild(el("span", "wm-flag", " *"));
    }
    tr.appendChild(thr);
    var st = el("td");
    st.appendChild(statusBadge(data, c.st));
    tr.appendChild(st);
    tr.appendChild(el("td", null, c.gap === null ? "" : withUnit(c.gap, c.uom)));
  }

  function criterionDetails(data, c) {
    var td = el("td", "wm-crit-detail");
    td.colSpan = 5;
    if (c.src) {
      td.appendChild(el("div", null, bi(data.ui.source) + ": " + c.src));
    }
    if (c.conf !== "verified") {
      td.appendChild(el("div", "wm-flag", "* " + bi(data.confidence[c.conf])));
    }
    if (c.note) {
      td.appendChild(el("div", "wm-note", bi(data.ui.note) + ": " + c.note));
    }
    return td;
  }

  function criteriaTable(data, rows) {
    var table = el("table", "wm-crit");
    var head = el("tr");
    ["criterion", "value", "threshold", "status", "gap"].forEach(function (key) {
      var th = el("th", null, data.ui[key][0]);
      th.appendChild(el("div", "wm-en", data.ui[key][1]));
      head.appendChild(th);
    });
    table.appendChild(head);
    rows.forEach(function (c) {
      var tr = el("tr", "wm-crit-row");
      criterionCells(data, tr, c);
      table.appendChild(tr);
      var details = criterionDetails(data, c);
      if (details.childNodes.length) {
        var tr2 = el("tr", "wm-crit-more");
        tr2.appendChild(details);
        table.appendChild(tr2);
      }
    });
    return table;
  }

  function areaPopup(data, layerSpec, props) {
    var root = el("div", "wm-popup");
    root.appendChild(el("div", "wm-popup-title", props.name || "—"));
    var sub = bi(layerSpec.level) + " · " + bi(data.ui.code) + ": " + props.id;
    if (props.unit) {
      sub += " · " + bi(data.ui.commune) + ": " + props.unit;
    }
    root.appendChild(el("div", "wm-popup-sub", sub));
    if (props.st) {
      root.appendChild(verdictLine(data, props.st));
    }
    root.appendChild(indicatorTable(data, layerSpec.columns, props));
    if (props.cr.length) {
      root.appendChild(el("div", "wm-popup-h", bi(data.ui.criteria)));
      root.appendChild(criteriaTable(data, props.cr));
    }
    return root;
  }

  function pointPopup(data, props) {
    var root = el("div", "wm-popup");
    var kind = data.infrastructure.kinds[props.k];
    root.appendChild(el("div", "wm-popup-title", props.name || bi(kind.label)));
    root.appendChild(el("div", "wm-popup-sub", bi(kind.label)));
    return root;
  }

  function roadPopup(data, props) {
    var root = el("div", "wm-popup");
    var cls = data.roads.classes[props.s];
    root.appendChild(el("div", "wm-popup-title", bi(data.ui.roads)));
    var table = el("table", "wm-ind");
    row(table, bi(data.ui.surface), bi(cls.label));
    if (props.name) {
      row(table, bi(data.ui.name), props.name);
    }
    root.appendChild(table);
    return root;
  }

  /* ---- layers --------------------------------------------------------- */

  /* The top padding keeps popups clear of the title block and the layer switcher. */
  var POPUP_OPTIONS = {
    maxWidth: 560, minWidth: 260, maxHeight: 420,
    autoPanPaddingTopLeft: [20, 200], autoPanPaddingBottomRight: [20, 20]
  };

  function areaLayer(data, spec, pane, fill) {
    return L.geoJSON(spec.geojson, {
      pane: pane,
      style: function (feature) { return fill(feature.properties); },
      onEachFeature: function (feature, layer) {
        var props = feature.properties;
        layer.bindPopup(function () { return areaPopup(data, spec, props); }, POPUP_OPTIONS);
        layer.bindTooltip(function () { return el("span", null, props.name); }, { sticky: true });
      }
    });
  }

  function statusStyle(data, status, weight) {
    return {
      color: "#333333", weight: weight, opacity: 0.9,
      fillColor: data.status.colors[status], fillOpacity: 0.55
    };
  }

  function densityStyle(data, cls) {
    var d = data.density;
    return {
      color: "#555555", weight: 1, opacity: 0.9,
      fillColor: cls < 0 ? d.noDataColor : d.colors[cls], fillOpacity: 0.8
    };
  }

  /*
   * Hamlet names, drawn only at zoom >= minZoom, only inside the view (redrawn after
   * each move) and only when at most MAX_NAMES fit there: thousands of labels would
   * take seconds to lay out and could not be read anyway.
   */
  var MAX_NAMES = 300;
  var NameLayer = L.Layer.extend({
    initialize: function (features, minZoom) {
      this._features = features;
      this._minZoom = minZoom;
      this._group = L.layerGroup();
    },
    onAdd: function (map) {
      this._group.addTo(map);
      map.on("moveend", this._refresh, this);
      this._refresh();
    },
    onRemove: function (map) {
      map.off("moveend", this._refresh, this);
      map.removeLayer(this._group);
    },
    _refresh: function () {
      var map = this._map;
      var group = this._group;
      group.clearLayers();
      if (map.getZoom() < this._minZoom) {
        return;
      }
      var view = map.getBounds().pad(0.1);
      var shown = this._features.filter(function (f) {
        var at = f.properties.lp;
        return at && f.properties.name && view.contains(at);
      });
      if (shown.length > MAX_NAMES) {
        return;
      }
      shown.forEach(function (f) {
        var at = f.properties.lp;
        var text = el("span", null, f.properties.name);
        var icon = L.divIcon({ className: "wm-label", html: text, iconSize: null });
        group.addLayer(L.marker(at, { icon: icon, interactive: false, keyboard: false }));
      });
    }
  });

  function hamletOutline(data) {
    var lines = L.geoJSON(data.hamlets.geojson, {
      pane: "wm-hamlet-lines",
      interactive: false,
      style: function () {
        return { color: "#2b2b2b", weight: 1, opacity: 0.8, fill: false, dashArray: "3 2" };
      }
    });
    return L.layerGroup([lines, new NameLayer(data.hamlets.geojson.features, data.labelMinZoom)]);
  }

  function pointLayer(data) {
    var spec = data.infrastructure;
    return L.geoJSON(spec.geojson, {
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, {
          pane: "wm-points", radius: 5, color: "#ffffff", weight: 1.2,
          fillColor: spec.kinds[feature.properties.k].color, fillOpacity: 0.95
        });
      },
      onEachFeature: function (feature, layer) {
        var props = feature.properties;
        layer.bindPopup(function () { return pointPopup(data, props); }, POPUP_OPTIONS);
        layer.bindTooltip(function () {
          return el("span", null, props.name || bi(spec.kinds[props.k].label));
        });
      }
    });
  }

  function roadLayer(data) {
    var spec = data.roads;
    return L.geoJSON(spec.geojson, {
      pane: "wm-roads",
      style: function (feature) {
        var cls = spec.classes[feature.properties.s];
        return { color: cls.color, weight: cls.weight, dashArray: cls.dash, opacity: 0.95 };
      },
      onEachFeature: function (feature, layer) {
        var props = feature.properties;
        layer.bindPopup(function () { return roadPopup(data, props); }, POPUP_OPTIONS);
      }
    });
  }

  function makePanes(map) {
    [["wm-units", 410], ["wm-hamlets", 420], ["wm-hamlet-lines", 430],
      ["wm-roads", 440], ["wm-points", 450]].forEach(function (p) {
      map.createPane(p[0]).style.zIndex = String(p[1]);
    });
  }

  /* ---- legend entries ------------------------------------------------- */

  function statusItems(data) {
    return data.status.order.map(function (key) {
      return { label: bi(data.status.labels[key]), color: data.status.colors[key], shape: "box" };
    });
  }

  function densityItems(data) {
    var d = data.density;
    var items = d.labels.map(function (label, i) {
      return { label: label, color: d.colors[i], shape: "box" };
    });
    items.push({ label: bi(data.ui.noData), color: d.noDataColor, shape: "box" });
    return items;
  }

  /* Each overlay: name in the switcher, layer, legend section, on by default. */
  function buildOverlays(data) {
    var out = [];
    out.push({
      name: bi(data.ui.unitsLayer), on: true,
      layer: areaLayer(data, data.units, "wm-units", function (p) { return statusStyle(data, p.st, 2.5); }),
      legend: { title: bi(data.ui.verdict), items: statusItems(data) }
    });
    if (data.hamlets) {
      out.push({
        name: bi(data.ui.hamletLines), on: true, layer: hamletOutline(data),
        legend: { title: bi(data.ui.hamletLines), items: [{ label: bi(data.ui.hamletBoundary), color: "#2b2b2b", shape: "dash" }] }
      });
      out.push({
        name: bi(data.ui.densityLayer), on: false, group: "hamlet-theme",
        layer: areaLayer(data, data.hamlets, "wm-hamlets", function (p) { return densityStyle(data, p.dc); }),
        legend: { title: bi(data.ui.densityLayer) + " (" + data.density.unit + ")", items: densityItems(data) }
      });
      data.hamletCriteria.forEach(function (c) {
        var title = bi(data.ui.hamletPrefix) + ": " + c.vi + (c.en ? " / " + c.en : "");
        out.push({
          name: title, on: false, group: "hamlet-theme",
          layer: areaLayer(data, data.hamlets, "wm-hamlets", function (p) {
            return statusStyle(data, p.cs[c.code] || "not_assessed", 1);
          }),
          legend: { title: title, items: statusItems(data) }
        });
      });
    }
    if (data.roads) {
      out.push({
        name: bi(data.ui.roads), on: true, layer: roadLayer(data),
        legend: {
          title: bi(data.ui.roads),
          items: data.roads.present.map(function (i) {
            var cls = data.roads.classes[i];
            return { label: bi(cls.label), color: cls.color, shape: "line", weight: cls.weight, dash: cls.dash };
          })
        }
      });
    }
    if (data.infrastructure) {
      out.push({
        name: bi(data.ui.infrastructure), on: true, layer: pointLayer(data),
        legend: {
          title: bi(data.ui.infrastructure),
          items: data.infrastructure.present.map(function (i) {
            var kind = data.infrastructure.kinds[i];
            return { label: bi(kind.label), color: kind.color, shape: "dot" };
          })
        }
      });
    }
    return out;
  }

  /* ---- controls ------------------------------------------------------- */

  function swatch(item) {
    var box = el("span", "wm-swatch wm-swatch-" + item.shape);
    if (item.shape === "line" || item.shape === "dash") {
      var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("width", "22");
      svg.setAttribute("height", "10");
      var line = document.createElementNS("http://www.w3.org/2000/svg", "line");
      line.setAttribute("x1", "1");
      line.setAttribute("y1", "5");
      line.setAttribute("x2", "21");
      line.setAttribute("y2", "5");
      line.setAttribute("stroke", item.color);
      line.setAttribute("stroke-width", String(item.weight || 1.5));
      if (item.dash || item.shape === "dash") {
        line.setAttribute("stroke-dasharray", item.dash || "3 2");
      }
      svg.appendChild(line);
      box.appendChild(svg);
    } else {
      box.style.background = item.color;
    }
    return box;
  }

  function legendControl(map, overlays) {
    var control = L.control({ position: "bottomright" });
    var container = el("div", "wm-panel wm-legend");
    container.id = "wm-legend";
    function render() {
      container.textContent = "";
      overlays.forEach(function (o) {
        if (!map.hasLayer(o.layer)) {
          return;
        }
        var section = el("div", "wm-legend-section");
        section.appendChild(el("div", "wm-legend-title", o.legend.title));
        o.legend.items.forEach(function (item) {
          var line = el("div", "wm-legend-item");
          line.appendChild(swatch(item));
          line.appendChild(el("span", null, item.label));
          section.appendChild(line);
        });
        container.appendChild(section);
      });
      container.style.display = container.childNodes.length ? "" : "none";
    }
    control.onAdd = function () {
      L.DomEvent.disableClickPropagation(container);
      L.DomEvent.disableScrollPropagation(container);
      return container;
    };
    control.addTo(map);
    map.on("overlayadd overlayremove", render);
    render();
    return control;
  }

  function titleControl(map, data) {
    var t = data.title;
    var control = L.control({ position: "topleft" });
    var box = el("div", "wm-panel wm-title");
    box.id = "wm-title";
    box.appendChild(el("h1", null, t.title));
    if (t.subtitle) {
      box.appendChild(el("div", "wm-subtitle", t.subtitle));
    }
    /* The first note (e.g. "illustrative data") stays in view; the rest folds away. */
    if (t.notes.length) {
      box.appendChild(el("div", "wm-title-note", t.notes[0]));
    }
    if (t.notes.length > 1 || t.sources.length) {
      var details = el("details", "wm-details");
      details.appendChild(el("summary", null, bi(data.ui.notesAndSources)));
      t.notes.slice(1).forEach(function (note) {
        details.appendChild(el("div", "wm-title-note", note));
      });
      if (t.sources.length) {
        details.appendChild(el("div", "wm-sources-h", bi(data.ui.sources) + ":"));
        var list = el("ul", "wm-sources");
        t.sources.forEach(function (s) { list.appendChild(el("li", null, s)); });
        details.appendChild(list);
      }
      box.appendChild(details);
    }
    control.onAdd = function () {
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    control.addTo(map);
  }

  function layerSwitcher(map, data, overlays) {
    var entries = {};
    overlays.forEach(function (o) {
      entries[escapeHtml(o.name)] = o.layer;
      if (o.on) {
        o.layer.addTo(map);
      }
    });
    var base = data.basemap;
    var tiles = L.tileLayer(base.url, { attribution: escapeHtml(base.attribution), maxZoom: 19 });
    entries[escapeHtml(bi(base.label))] = tiles;
    var control = L.control.layers(null, entries, { collapsed: false, position: "topright" });
    control.addTo(map);
    control.getContainer().id = "wm-layers";
    return control;
  }

  /*
   * Overlays of one group (the hamlet themes) are shown one at a time. The removal
   * waits for the layer switcher to finish handling the click, so that it then
   * redraws its checkboxes.
   */
  function exclusiveGroups(map, overlays) {
    map.on("overlayadd", function (e) {
      var added = overlays.filter(function (o) { return o.layer === e.layer; })[0];
      if (!added || !added.group) {
        return;
      }
      var others = overlays.filter(function (o) {
        return o !== added && o.group === added.group && map.hasLayer(o.layer);
      });
      setTimeout(function () {
        others.forEach(function (o) { map.removeLayer(o.layer); });
      }, 0);
    });
  }

  global.wardMapInit = function (map, data) {
    document.documentElement.lang = "vi";
    map.attributionControl.setPrefix("Leaflet");
    makePanes(map);
    titleControl(map, data);
    L.control.zoom({ position: "topleft" }).addTo(map);
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
    var overlays = buildOverlays(data);
    layerSwitcher(map, data, overlays);
    exclusiveGroups(map, overlays);
    legendControl(map, overlays);
    fitClearOfPanels(map, data.bounds);
  };

  /* Fit the features between the title block (left) and the legend (right) when the
   * window is wide enough; on a narrow screen the panels overlap the map instead. */
  function fitClearOfPanels(map, bounds) {
    var width = map.getSize().x;
    var title = document.getElementById("wm-title").offsetWidth;
    var legendNode = document.getElementById("wm-legend");
    var legend = legendNode ? legendNode.offsetWidth : 0;
    var wide = width - title - legend > 320;
    map.fitBounds(bounds, {
      paddingTopLeft: [wide ? title + 24 : 24, 24],
      paddingBottomRight: [wide ? legend + 24 : 24, 24]
    });
  }
})(window);
