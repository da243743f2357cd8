/*
 * Ward-standard map (a gap atlas): draws the layers that geo/webmap.py embeds as JSON.
 *
 * Every attribute value reaches the page as text (textContent / text nodes);
 * the only strings given to Leaflet as HTML (layer-switcher names, attribution)
 * are escaped first. Styling is computed here, once per theme, from one
 * property per feature (a status, a class index), never per feature id.
 */
(function (global) {
  "use strict";

  /* ---- helpers -------------------------------------------------------- */

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

  /* An integer the Vietnamese way: 60000 → "60.000". */
  function integer(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  }

  function withUnit(value, unit) {
    return unit ? value + " " + unit : value;
  }

  /* Text folded for search: no diacritics (đ → d), lower case, single spaces. */
  function fold(text) {
    var s = String(text);
    if (s.normalize) {
      s = s.normalize("NFD").replace(/[\u0300-\u036f]/g, "");
    }
    return s.replace(/[đĐ]/g, "d").toLowerCase().replace(/\s+/g, " ").trim();
  }

  function svgNode(tag, attrs) {
    var node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }

  /* An infrastructure icon: a coloured disc with a white glyph. */
  function kindSvg(kind, size) {
    var svg = svgNode("svg", { width: size, height: size, viewBox: "0 0 20 20", "class": "wm-kind" });
    svg.appendChild(svgNode("circle", { cx: 10, cy: 10, r: 9.2, fill: kind.color, stroke: "#ffffff", "stroke-width": 1.4 }));
    svg.appendChild(svgNode("path", { d: kind.glyph, fill: "#ffffff", transform: "translate(2 2)" }));
    return svg;
  }

  /* ---- themes: what colours the communes or hamlets ------------------- */

  function levelSpec(data, level) {
    return level === "unit" ? data.units : data.hamlets;
  }

  function buildThemes(data) {
    var themes = [];
    ["unit", "hamlet"].forEach(function (level) {
      var spec = levelSpec(data, level);
      if (!spec) {
        return;
      }
      spec.families.forEach(function (family, f) {
        var group = level + ":f" + f;
        if (family.verdict) {
          themes.push({ id: level + ":v" + f, level: level, kind: "verdict", family: f, group: group, label: data.ui.overall });
        }
        spec.criteria.forEach(function (c, i) {
          if (c.f === f) {
            themes.push({ id: level + ":" + i, level: level, kind: "criterion", index: i, def: c, family: f, group: group, label: [c.vi, c.en] });
          }
        });
      });
      if (spec.density) {
        themes.push({ id: level + ":density", level: level, kind: "density", group: level + ":other", label: data.ui.density });
      }
    });
    if (data.landuse) {
      /* shares mode: the hamlets (communes) coloured by their largest land-use class */
      var zones = data.landuse.mode === "shares" ? data.landuse.level : null;
      themes.push({ id: "landuse", level: zones, kind: "landuse", group: zones ? zones + ":other" : "other", label: data.ui.landuse });
    }
    themes.push({ id: "none", level: null, kind: "none", group: "other", label: data.ui.noTheme });
    return themes;
  }

  /* The heading of a theme group in the selector: level, and criteria set. */
  function groupLabel(data, theme) {
    if (!theme.level) {
      return bi(data.ui.other);
    }
    var spec = levelSpec(data, theme.level);
    if (theme.family === undefined) {
      return spec.level[0] + " — " + bi(data.ui.other);
    }
    return spec.level[0] + " — " + spec.families[theme.family].label[0];
  }

  function rowOf(props, index) {
    return props._rows[index] || null;
  }

  function gapText(def, row) {
    return row && row.s === "fail" && row.g !== null ? withUnit(def.word[0] + " " + row.g, def.uom) : "";
  }

  /* Ordered categories of a theme: key, label, colour. */
  function categories(data, theme, mode) {
    var st = data.status;
    function status(key) {
      return { key: key, label: bi(st.labels[key]), color: st.colors[key] };
    }
    if (theme.kind === "verdict") {
      return st.order.map(status);
    }
    if (theme.kind === "criterion") {
      var classes = theme.def.classes;
      if (mode === "gap" && classes) {
        var out = [status("pass")];
        classes.labels.forEach(function (label, i) {
          out.push({
            key: "gap" + i, color: classes.colors[i],
            label: st.labels.fail[0] + ": " + theme.def.word[0] + " " + withUnit(label, theme.def.uom)
          });
        });
        out.push(status("fail"));
        return out.concat(["not_assessed", "none"].map(status));
      }
      return st.order.map(status);
    }
    if (theme.kind === "density") {
      var d = data.density;
      return d.labels.map(function (label, i) {
        return { key: "d" + i, label: label, color: d.colors[i] };
      }).concat([{ key: "none", label: bi(data.ui.noData), color: d.noDataColor }]);
    }
    if (theme.kind === "landuse" && theme.level) {
      return data.landuse.classes.map(function (cls, i) {
        return { key: "lu" + i, label: cls.code + " — " + cls.vi, color: cls.color };
      }).concat([{ key: "none", label: bi(data.ui.noData), color: data.density.noDataColor }]);
    }
    return [];
  }

  function categoryKey(theme, mode, props) {
    if (theme.kind === "verdict") {
      return props.vd[theme.family] || "none";
    }
    if (theme.kind === "criterion") {
      var row = rowOf(props, theme.index);
      if (!row) {
        return "none";
      }
      if (mode === "gap" && theme.def.classes && row.s === "fail" && row.c >= 0) {
        return "gap" + row.c;
      }
      return row.s;
    }
    if (theme.kind === "density") {
      return props.dc < 0 ? "none" : "d" + props.dc;
    }
    if (theme.kind === "landuse") {
      return props.ld === undefined || props.ld < 0 ? "none" : "lu" + props.ld;
    }
    return null;
  }

  /* ---- popups --------------------------------------------------------- */

  function row(table, label, value, valueClass) {
    var tr = el("tr");
    tr.appendChild(el("th", null, label));
    tr.appendChild(el("td", valueClass || null, value));
    table.appendChild(tr);
  }

  function statusBadge(data, status) {
    var badge = el("span", "wm-badge wm-badge-" + status, bi(data.status.labels[status]));
    badge.style.background = data.status.colors[status];
    return badge;
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

  function criterionCells(data, tr, def, c) {
    var name = el("td", "wm-crit-name", def.vi);
    if (def.en) {
      name.appendChild(el("div", "wm-en", def.en));
    }
    tr.appendChild(name);
    tr.appendChild(el("td", c.v === null ? "wm-na" : null,
      c.v === null ? bi(data.ui.noData) : withUnit(c.v, def.uom)));
    var thr = el("td", null, c.t === null ? "—" : withUnit(def.op + " " + c.t, def.uom));
    if (def.conf !== "verified") {
      thr.appendChild(el("span", "wm-flag", " *"));
    }
    tr.appendChild(thr);
    var st = el("td");
    st.appendChild(statusBadge(data, c.s));
    tr.appendChild(st);
    tr.appendChild(el("td", "wm-gap", gapText(def, c)));
  }

  function criterionDetails(data, spec, def, c) {
    var td = el("td", "wm-crit-detail");
    td.colSpan = 5;
    var source = c.src !== undefined ? c.src : def.src;
    if (source) {
      td.appendChild(el("div", null, bi(data.ui.source) + ": " + source));
    }
    if (def.conf !== "verified") {
      td.appendChild(el("div", "wm-flag", "* " + bi(data.confidence[def.conf])));
    }
    if (c.n !== undefined && spec.notes[c.n]) {
      td.appendChild(el("div", "wm-note", bi(data.ui.note) + ": " + spec.notes[c.n]));
    }
    return td;
  }

  function criteriaTable(data, spec, props, active) {
    var rows = props.cr.slice().sort(function (a, b) {
      return spec.criteria[a.i].f - spec.criteria[b.i].f || a.i - b.i;
    });
    var table = el("table", "wm-crit");
    var head = el("tr");
    ["criterion", "value", "threshold", "status", "gap"].forEach(function (key) {
      var th = el("th", null, data.ui[key][0]);
      th.appendChild(el("div", "wm-en", data.ui[key][1]));
      head.appendChild(th);
    });
    table.appendChild(head);
    var family = -1;
    rows.forEach(function (c) {
      var def = spec.criteria[c.i];
      if (def.f !== family) {
        family = def.f;
        var head = el("tr", "wm-crit-family");
        var cell = el("td", null, bi(spec.families[family].label));
        cell.colSpan = 5;
        var verdict = props.vd[family];
        if (verdict) {
          cell.appendChild(document.createTextNode(" — " + data.ui.overall[0] + ": "));
          cell.appendChild(statusBadge(data, verdict));
        }
        head.appendChild(cell);
        table.appendChild(head);
      }
      var tr = el("tr", "wm-crit-row" + (c.i === active ? " wm-active" : ""));
      criterionCells(data, tr, def, c);
      table.appendChild(tr);
      var details = criterionDetails(data, spec, def, c);
      if (details.childNodes.length) {
        var tr2 = el("tr", "wm-crit-more" + (c.i === active ? " wm-active" : ""));
        tr2.appendChild(details);
        table.appendChild(tr2);
      }
    });
    return table;
  }

  /* ---- the map -------------------------------------------------------- */

  /* The pan paddings are set from the panels' sizes (panelPadding), so that an open popup
   * is moved clear of the title block (left) and the legend and switchers (right). */
  var POPUP_OPTIONS = {
    maxWidth: 520, minWidth: 300, maxHeight: 440,
    autoPanPaddingTopLeft: [20, 20], autoPanPaddingBottomRight: [20, 20]
  };

  function panelPadding(map) {
    var width = map.getSize().x;
    var title = document.getElementById("wm-title").offsetWidth;
    var legendNode = document.getElementById("wm-legend");
    var right = Math.max(legendNode ? legendNode.offsetWidth : 0,
      document.getElementById("wm-layers").offsetWidth, document.getElementById("wm-theme").offsetWidth);
    var wide = width - title - right > 320;
    return { wide: wide, left: wide ? title + 24 : 24, right: wide ? right + 24 : 24 };
  }

  /* Names at a label point, only at zoom >= minZoom, only inside the view (redrawn after
   * each move) and only when at most MAX_NAMES fit there. A second line may say by how
   * much the feature fails the criterion on show. */
  var MAX_NAMES = 300;
  var NameLayer = L.Layer.extend({
    initialize: function (features, minZoom, className, extra) {
      this._features = features;
      this._minZoom = minZoom;
      this._className = className;
      this._extra = extra;
      this._group = L.layerGroup();
    },
    onAdd: function (map) {
      this._group.addTo(map);
      map.on("moveend", this.refresh, this);
      this.refresh();
    },
    onRemove: function (map) {
      map.off("moveend", this.refresh, this);
      map.removeLayer(this._group);
    },
    refresh: function () {
      var map = this._map;
      if (!map) {
        return;
      }
      var group = this._group;
      var self = this;
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
        var extra = self._extra(f.properties);
        var icon = new LabelIcon({
          className: self._className + (extra ? " wm-has-gap" : ""), iconSize: null,
          name: f.properties.name, extra: extra
        });
        group.addLayer(L.marker(f.properties.lp, {
          icon: icon, interactive: false, keyboard: false, pane: "wm-labels"
        }));
      });
    }
  });

  /* A name (and, below it, a gap) centred on a point: <span>name</span><span>gap</span>. */
  var LabelIcon = L.DivIcon.extend({
    createIcon: function (old) {
      var div = L.DivIcon.prototype.createIcon.call(this, old);
      div.appendChild(el("span", null, this.options.name));
      if (this.options.extra) {
        div.appendChild(el("span", "wm-label-gap", this.options.extra));
      }
      return div;
    }
  });

  var KindIcon = L.DivIcon.extend({
    options: { className: "wm-icon", iconSize: [20, 20], iconAnchor: [10, 10], popupAnchor: [0, -8] },
    createIcon: function (old) {
      var div = L.DivIcon.prototype.createIcon.call(this, old);
      div.appendChild(kindSvg(this.options.kind, 20));
      return div;
    }
  });

  function WardMap(map, data) {
    this.map = map;
    this.data = data;
    this.themes = buildThemes(data);
    this.theme = this.themes[0];
    this.mode = "status";
    this.overlays = [];
    this.listeners = [];
    var self = this;
    ["unit", "hamlet"].forEach(function (level) {
      var spec = levelSpec(data, level);
      if (spec) {
        spec.geojson.features.forEach(function (f) {
          var rows = {};
          f.properties.cr.forEach(function (c) { rows[c.i] = c; });
          f.properties._rows = rows;
        });
      }
    });
    this.progressItems = data.progress ? progressItems(data) : [];
    this.unitById = {};
    data.units.geojson.features.forEach(function (f) { self.unitById[f.properties.id] = f; });
  }

  WardMap.prototype.on = function (fn) {
    this.listeners.push(fn);
  };

  WardMap.prototype.setTheme = function (id, mode, quiet) {
    var found = this.themes.filter(function (t) { return t.id === id; })[0];
    if (found) {
      this.theme = found;
    }
    if (mode) {
      this.mode = mode;
    }
    if (this.mode === "gap" && !(this.theme.def && this.theme.def.classes)) {
      this.mode = "status";
    }
    this.restyle();
    var self = this;
    this.listeners.forEach(function (fn) { fn(self); });
    if (quiet) {
      return;
    }
    try {
      global.history.replaceState(null, "", "#theme=" + encodeURIComponent(this.theme.id) + "&mode=" + this.mode);
    } catch (e) { /* a page in a sandboxed frame may not change its address */ }
  };

  WardMap.prototype.styleFor = function (level) {
    var self = this;
    var theme = this.theme;
    var colors = {};
    categories(this.data, theme, this.mode).forEach(function (c) { colors[c.key] = c.color; });
    var shown = theme.level === level;
    var edges = level === "unit" && this.ownEdges;
    return function (feature) {
      if (!shown) {
        return edges
          ? { stroke: true, color: "#1b1b1b", weight: 1.5, opacity: 0.9, fill: true, fillOpacity: 0, fillColor: "#ffffff" }
          : { stroke: false, fill: true, fillOpacity: 0, fillColor: "#ffffff" };
      }
      var key = categoryKey(theme, self.mode, feature.properties);
      return {
        stroke: true, color: "#3a3a3a", weight: level === "unit" ? 1.2 : 0.8, opacity: 0.9,
        fill: true, fillColor: colors[key] || "#ffffff", fillOpacity: level === "unit" ? 0.6 : 0.72
      };
    };
  };

  WardMap.prototype.restyle = function () {
    var map = this.map;
    var theme = this.theme;
    this.unitLayer.setStyle(this.styleFor("unit"));
    if (this.hamletLayer) {
      this.hamletLayer.setStyle(this.styleFor("hamlet"));
      /* Hamlets stay clickable over a commune theme (transparent), not over land-use shapes. */
      if (theme.kind === "landuse" && !theme.level) {
        map.removeLayer(this.hamletLayer);
      } else if (!map.hasLayer(this.hamletLayer)) {
        this.hamletLayer.addTo(map);
      }
    }
    if (this.data.landuse && this.data.landuse.geojson) {
      if (theme.kind === "landuse") {
        this.landuseLayer().addTo(map);
      } else if (this._landuse) {
        map.removeLayer(this._landuse);
      }
    }
    this.names.forEach(function (n) { n.refresh(); });
  };

  /* The category of a feature under the current theme, as text (tooltips, labels). */
  WardMap.prototype.describe = function (level, props) {
    var theme = this.theme;
    if (theme.level !== level) {
      return "";
    }
    if (theme.kind === "criterion") {
      var r = rowOf(props, theme.index);
      if (!r) {
        return bi(this.data.ui.noData);
      }
      var text = bi(this.data.status.labels[r.s]);
      var gap = gapText(theme.def, r);
      return gap ? text + ": " + gap : text;
    }
    var key = categoryKey(theme, this.mode, props);
    var cat = categories(this.data, theme, this.mode).filter(function (c) { return c.key === key; })[0];
    return cat ? cat.label : "";
  };

  WardMap.prototype.areaPopup = function (level, props) {
    var data = this.data;
    var spec = levelSpec(data, level);
    var self = this;
    var root = el("div", "wm-popup");
    root.appendChild(el("div", "wm-popup-title", props.name || "—"));
    root.appendChild(el("div", "wm-popup-sub", bi(spec.level) + " · " + bi(data.ui.code) + ": " + props.id));
    if (props.st) {
      var line = el("div", "wm-verdict", bi(data.ui.verdict) + ": ");
      line.appendChild(statusBadge(data, props.st));
      root.appendChild(line);
    }
    if (props.unit) {
      var commune = el("div", "wm-commune", bi(data.ui.commune) + ": " + props.unit + " ");
      var unit = this.unitById[props.uid];
      if (unit) {
        if (unit.properties.st) {
          commune.appendChild(statusBadge(data, unit.properties.st));
        }
        var more = el("button", "wm-link", bi(data.ui.communeDetails));
        more.type = "button";
        L.DomEvent.on(more, "click", function (e) {
          L.DomEvent.stop(e);
          self.openPopup("unit", unit.properties);
        });
        commune.appendChild(more);
      }
      root.appendChild(commune);
    }
    var shares = props.lu && props.lu.length;
    /* under the land-use theme, the shares first */
    if (shares && this.theme.kind === "landuse") {
      root.appendChild(el("div", "wm-popup-h", bi(data.ui.landuseShares)));
      root.appendChild(sharesChart(data, props.lu));
    }
    if (props.cr.length) {
      var active = this.theme.level === level && this.theme.kind === "criterion" ? this.theme.index : -1;
      root.appendChild(el("div", "wm-popup-h", bi(data.ui.criteria)));
      root.appendChild(criteriaTable(data, spec, props, active));
    }
    root.appendChild(indicatorTable(data, spec.columns, props));
    if (shares && this.theme.kind !== "landuse") {
      root.appendChild(el("div", "wm-popup-h", bi(data.ui.landuseShares)));
      root.appendChild(sharesChart(data, props.lu));
    }
    return root;
  };

  /* Land-use shares of a zone, largest first: swatch, class, a bar, hectares and per cent. */
  function sharesChart(data, shares) {
    var table = el("table", "wm-shares");
    shares.forEach(function (share) {
      var cls = data.landuse.classes[share[0]];
      var tr = el("tr");
      var name = el("td", "wm-share-name");
      var box = el("span", "wm-swatch wm-swatch-box");
      box.style.background = cls.color;
      name.appendChild(box);
      name.appendChild(document.createTextNode(cls.code + " — " + cls.vi));
      tr.appendChild(name);
      var barCell = el("td", "wm-share-bar");
      var bar = el("span", "wm-bar");
      bar.style.width = Math.max(1, parseFloat(share[2].replace(/\./g, "").replace(",", "."))) + "%";
      bar.style.background = cls.color;
      barCell.appendChild(bar);
      tr.appendChild(barCell);
      tr.appendChild(el("td", "wm-share-num", share[1] + " ha"));
      tr.appendChild(el("td", "wm-share-num", share[2] + " %"));
      table.appendChild(tr);
    });
    return table;
  }

  WardMap.prototype.openPopup = function (level, props) {
    if (props.lp) {
      L.popup(POPUP_OPTIONS).setLatLng(props.lp).setContent(this.areaPopup(level, props)).openOn(this.map);
    }
  };

  WardMap.prototype.areaLayer = function (level, pane) {
    var self = this;
    var spec = levelSpec(this.data, level);
    return L.geoJSON(spec.geojson, {
      pane: pane,
      style: this.styleFor(level),
      onEachFeature: function (feature, layer) {
        var props = feature.properties;
        layer.bindPopup(function () { return self.areaPopup(level, props); }, POPUP_OPTIONS);
        layer.bindTooltip(function () {
          var box = el("div", "wm-tip");
          box.appendChild(el("strong", null, props.name));
          var what = self.describe(level, props);
          if (what) {
            box.appendChild(el("div", null, what));
          }
          return box;
        }, { sticky: true });
      }
    });
  };

  WardMap.prototype.outlines = function (level, pane, style) {
    return L.geoJSON(levelSpec(this.data, level).geojson, {
      pane: pane, interactive: false,
      style: function () { return style; }
    });
  };

  WardMap.prototype.landuseLayer = function () {
    if (this._landuse) {
      return this._landuse;
    }
    var data = this.data;
    var spec = data.landuse;
    var renderer = L.canvas({ pane: "wm-landuse", padding: 0.3 });
    this._landuse = L.geoJSON(spec.geojson, {
      pane: "wm-landuse",
      renderer: renderer,
      style: function (feature) {
        return {
          color: "#7d7d7d", weight: spec.aggregated ? 0.6 : 0.35, opacity: 0.8,
          fillColor: spec.classes[feature.properties.c].color, fillOpacity: 0.9
        };
      },
      onEachFeature: function (feature, layer) {
        layer.bindPopup(function () { return parcelPopup(data, feature.properties); }, POPUP_OPTIONS);
      }
    });
    return this._landuse;
  };

  function parcelPopup(data, props) {
    var spec = data.landuse;
    var cls = spec.classes[props.c];
    var root = el("div", "wm-popup");
    root.appendChild(el("div", "wm-popup-title", cls.code + " — " + cls.vi));
    if (cls.en) {
      root.appendChild(el("div", "wm-popup-sub", cls.en));
    }
    var table = el("table", "wm-ind");
    if (spec.aggregated) {
      if (props.z) {
        row(table, bi(levelSpec(data, data.hamlets ? "hamlet" : "unit").level), props.z);
      }
      row(table, bi(data.ui.area), props.a + " ha");
      row(table, bi(data.ui.parcels), integer(props.n));
    } else {
      row(table, bi(data.ui.area), props.a + " m²");
    }
    root.appendChild(table);
    return root;
  }

  function pointPopup(data, props) {
    var spec = data.infrastructure;
    var kind = spec.kinds[props.k];
    var root = el("div", "wm-popup");
    root.appendChild(el("div", "wm-popup-title", spec.aggregated ? bi(kind.label) : props.name || bi(kind.label)));
    if (spec.aggregated) {
      var table = el("table", "wm-ind");
      row(table, bi(data.ui.name), props.name);
      row(table, bi(data.ui.count), integer(props.n));
      root.appendChild(table);
    } else {
      root.appendChild(el("div", "wm-popup-sub", bi(kind.label)));
    }
    return root;
  }

  function roadPopup(data, props) {
    var cls = data.roads.classes[props.s];
    var root = el("div", "wm-popup");
    root.appendChild(el("div", "wm-popup-title", bi(data.ui.roads)));
    var table = el("table", "wm-ind");
    row(table, bi(data.ui.surface), bi(cls.label));
    if (props.name) {
      row(table, bi(data.ui.name), props.name);
    }
    if (props.km) {
      row(table, bi(data.ui.roadLength), props.km + " km");
    }
    root.appendChild(table);
    return root;
  }

  function findingPopup(data, props) {
    var kind = data.findings.kinds[props.k];
    var root = el("div", "wm-popup");
    root.appendChild(el("div", "wm-popup-title", bi(kind.label)));
    if (props.f) {
      root.appendChild(el("div", "wm-popup-sub", props.f));
    }
    root.appendChild(el("div", "wm-finding", props.m));
    if (props.a) {
      var table = el("table", "wm-ind");
      row(table, bi(data.ui.area), props.a + " m²");
      root.appendChild(table);
    }
    return root;
  }

  function pointLayer(data) {
    var spec = data.infrastructure;
    var markers = spec.geojson.features.map(function (feature) {
      var props = feature.properties;
      var c = feature.geometry.coordinates;
      var kind = spec.kinds[props.k];
      var marker = L.marker([c[1], c[0]], { icon: new KindIcon({ kind: kind }), keyboard: false });
      marker.bindPopup(function () { return pointPopup(data, props); }, POPUP_OPTIONS);
      marker.bindTooltip(function () {
        var text = spec.aggregated ? bi(kind.label) + ": " + integer(props.n) : props.name || bi(kind.label);
        return el("span", null, text);
      });
      return marker;
    });
    if (spec.cluster && L.markerClusterGroup) {
      var group = L.markerClusterGroup({
        showCoverageOnHover: false, maxClusterRadius: 40, disableClusteringAtZoom: 17, chunkedLoading: true
      });
      group.addLayers(markers);
      return group;
    }
    return L.layerGroup(markers);
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
        layer.bindPopup(function () { return roadPopup(data, feature.properties); }, POPUP_OPTIONS);
      }
    });
  }

  function findingsLayer(data) {
    var spec = data.findings;
    return L.geoJSON(spec.geojson, {
      pane: "wm-findings",
      style: function (feature) {
        var p = feature.properties;
        var color = spec.kinds[p.k].color;
        return p.outline
          ? { color: color, weight: 3, dashArray: "8 5", opacity: 0.95, fill: false }
          : { color: color, weight: 2, opacity: 0.95, fillColor: color, fillOpacity: 0.35 };
      },
      pointToLayer: function (feature, latlng) {
        var color = spec.kinds[feature.properties.k].color;
        return L.circleMarker(latlng, { pane: "wm-findings", radius: 6, color: color, weight: 2, fillOpacity: 0.4 });
      },
      onEachFeature: function (feature, layer) {
        layer.bindPopup(function () { return findingPopup(data, feature.properties); }, POPUP_OPTIONS);
      }
    });
  }

  function makePanes(map) {
    [["wm-units", 400], ["wm-landuse", 405], ["wm-hamlets", 410], ["wm-progress", 415], ["wm-outlines", 430],
      ["wm-roads", 440], ["wm-findings", 445], ["wm-labels", 620]].forEach(function (p) {
      map.createPane(p[0]).style.zIndex = String(p[1]);
    });
    map.getPane("wm-outlines").style.pointerEvents = "none";
    map.getPane("wm-labels").style.pointerEvents = "none";
  }

  /* ---- legend items --------------------------------------------------- */

  function countBy(features, keyOf) {
    var counts = {};
    features.forEach(function (f) {
      var key = keyOf(f.properties);
      counts[key] = (counts[key] || 0) + 1;
    });
    return counts;
  }

  /* The threshold of a criterion when every feature has the same one. */
  function commonThreshold(spec, index) {
    var seen = {};
    spec.geojson.features.forEach(function (f) {
      var r = f.properties._rows[index];
      if (r && r.t !== null) {
        seen[r.t] = true;
      }
    });
    var values = Object.keys(seen);
    return values.length === 1 ? values[0] : null;
  }

  WardMap.prototype.themeLegend = function () {
    var data = this.data;
    var theme = this.theme;
    var self = this;
    if (theme.kind === "none") {
      return null;
    }
    if (theme.kind === "landuse" && !theme.level) {
      var spec = data.landuse;
      return {
        title: bi(data.ui.landuse), id: "wm-legend-theme",
        lines: spec.aggregated ? [bi(data.ui.merged) + ": " + integer(spec.parcels)] : [],
        items: spec.classes.map(function (cls) {
          return { label: cls.code + " — " + cls.vi, color: cls.color, shape: "box", count: cls.ha + " ha" };
        })
      };
    }
    var level = levelSpec(data, theme.level);
    var counts = countBy(level.geojson.features, function (p) { return categoryKey(theme, self.mode, p); });
    var title = bi(level.level) + ": " + bi(theme.label);
    var lines = [];
    if (theme.kind === "landuse") {
      lines.push(bi(data.ui.landuseLargest));
      lines.push(bi(data.ui.parcels) + ": " + integer(data.landuse.parcels));
    }
    if (theme.family !== undefined) {
      lines.push(bi(level.families[theme.family].label));
    }
    if (theme.kind === "density") {
      title += " (" + data.density.unit + ")";
    }
    if (theme.kind === "criterion") {
      var thr = commonThreshold(level, theme.index);
      if (thr !== null) {
        lines.push(bi(data.ui.threshold) + ": " + withUnit(theme.def.op + " " + thr, theme.def.uom));
      }
      if (this.mode === "gap") {
        lines.push(bi(data.ui.gapLegend) + (theme.def.uom ? " (" + theme.def.uom + ")" : ""));
      }
    }
    var items = categories(data, theme, this.mode).filter(function (c) {
      /* the generic "fail" entry of a gap legend only when some failure has no numeric gap */
      return !(self.mode === "gap" && c.key === "fail" && !counts.fail);
    }).filter(function (c) {
      /* of the many land-use classes, those that are the largest somewhere */
      return theme.kind !== "landuse" || counts[c.key];
    }).map(function (c) {
      return { label: c.label, color: c.color, shape: "box", count: counts[c.key] || 0 };
    });
    return { title: title, lines: lines, items: items, id: "wm-legend-theme" };
  };

  /* ---- roadmap progress ---------------------------------------------- */

  function progressStatus(data, key) {
    return data.progress.statuses.filter(function (s) { return s.key === key; })[0];
  }

  /* Black or white text, whichever reads better on a "#rrggbb" background. */
  function textOn(color) {
    var n = parseInt(color.slice(1), 16);
    var luminance = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
    return luminance > 150 ? "#1b1b1b" : "#ffffff";
  }

  function progressBadge(data, key) {
    var status = progressStatus(data, key);
    var badge = el("span", "wm-badge wm-progress-badge", bi(status.label));
    badge.style.background = status.color;
    badge.style.color = textOn(status.color);
    return badge;
  }

  /* The units and hamlets with a roadmap line, drawn with their own shapes (units first,
   * under the hamlets): the level, id, name and roadmap entry of each. */
  function progressItems(data) {
    var items = [];
    ["unit", "hamlet"].forEach(function (level) {
      var spec = levelSpec(data, level);
      var entries = data.progress[level];
      if (!spec) {
        return;
      }
      spec.geojson.features.forEach(function (f) {
        var entry = entries[f.properties.id];
        if (entry) {
          items.push({
            type: "Feature", geometry: f.geometry,
            properties: { level: level, id: f.properties.id, name: f.properties.name, lp: f.properties.lp, entry: entry }
          });
        }
      });
    });
    return items;
  }

  function progressCounts(data, items) {
    var counts = {};
    items.forEach(function (f) {
      var key = f.properties.entry.s;
      counts[key] = (counts[key] || 0) + 1;
    });
    return counts;
  }

  function progressPopup(data, props) {
    var ui = data.ui;
    var entry = props.entry;
    var root = el("div", "wm-popup wm-progress-popup");
    root.appendChild(el("div", "wm-popup-title", props.name || "—"));
    root.appendChild(el("div", "wm-popup-sub",
      bi(levelSpec(data, props.level).level) + " · " + bi(ui.code) + ": " + props.id));
    var line = el("div", "wm-verdict", bi(ui.progress) + ": ");
    line.appendChild(progressBadge(data, entry.s));
    root.appendChild(line);
    root.appendChild(el("div", "wm-popup-h",
      bi(ui.roadmap) + " (" + bi(ui.asOf) + " " + data.progress.asOf + ")"));
    entry.l.forEach(function (item) {
      var block = el("div", "wm-progress-line");
      var head = el("div", "wm-progress-head");
      head.appendChild(el("span", "wm-progress-criterion", item.vi));
      head.appendChild(document.createTextNode(" "));
      head.appendChild(progressBadge(data, item.s));
      if (item.en || item.code) {
        head.appendChild(el("div", "wm-en", (item.en ? item.en + " · " : "") + item.code));
      }
      block.appendChild(head);
      var table = el("table", "wm-ind");
      if (item.v === null) {
        row(table, bi(ui.latest), bi(ui.noData), "wm-na");
      } else {
        row(table, bi(ui.latest), withUnit(item.v, item.uom));
      }
      row(table, bi(ui.target), withUnit((item.op ? item.op + " " : "") + item.t, item.uom));
      row(table, bi(ui.deadline), item.d);
      row(table, bi(ui.owner), item.o || "—");
      block.appendChild(table);
      if (item.r) {
        block.appendChild(el("div", "wm-progress-rule", item.r));
      }
      root.appendChild(block);
    });
    return root;
  }

  function progressLayer(wm) {
    var data = wm.data;
    var colors = {};
    data.progress.statuses.forEach(function (s) { colors[s.key] = s.color; });
    return L.geoJSON({ type: "FeatureCollection", features: wm.progressItems }, {
      pane: "wm-progress",
      style: function (feature) {
        var p = feature.properties;
        var color = colors[p.entry.s];
        return p.level === "unit"
          ? { color: color, weight: 5, opacity: 0.95, fill: true, fillColor: color, fillOpacity: 0.08 }
          : { color: "#3a3a3a", weight: 1, opacity: 0.9, fill: true, fillColor: color, fillOpacity: 0.8 };
      },
      onEachFeature: function (feature, layer) {
        var props = feature.properties;
        layer.bindPopup(function () { return progressPopup(data, props); }, POPUP_OPTIONS);
        layer.bindTooltip(function () {
          var box = el("div", "wm-tip");
          box.appendChild(el("strong", null, props.name));
          box.appendChild(el("div", null, bi(progressStatus(data, props.entry.s).label)));
          return box;
        }, { sticky: true });
      }
    });
  }

  function progressLegend(wm) {
    var data = wm.data;
    var spec = data.progress;
    var counts = progressCounts(data, wm.progressItems);
    var lines = [bi(data.ui.asOf) + " " + spec.asOf, bi(data.ui.progressHow)];
    if (spec.missing) {
      lines.push(integer(spec.missing) + " " + bi(data.ui.progressMissing));
    }
    return {
      title: bi(data.ui.roadmap), id: "wm-legend-progress", lines: lines,
      items: spec.statuses.map(function (s) {
        return { label: bi(s.label), color: s.color, shape: "box", count: counts[s.key] || 0, tip: s.rule[0] + " / " + s.rule[1] };
      })
    };
  }

  /* A line of the title block: the statuses' counts, and a button that shows the layer. */
  function progressSummary(wm) {
    var data = wm.data;
    var line = el("div", "wm-summary wm-progress-summary");
    line.appendChild(el("span", null, bi(data.ui.roadmap) + " (" + data.progress.asOf + "): "));
    var counts = progressCounts(data, wm.progressItems);
    data.progress.statuses.forEach(function (s) {
      if (counts[s.key]) {
        var badge = progressBadge(data, s.key);
        badge.textContent = s.label[0] + " " + counts[s.key];
        line.appendChild(badge);
        line.appendChild(document.createTextNode(" "));
      }
    });
    var show = el("button", "wm-link", bi(data.ui.progressShow));
    show.type = "button";
    show.id = "wm-progress-show";
    L.DomEvent.on(show, "click", function () {
      var overlay = wm.overlays.filter(function (o) { return o.id === "progress"; })[0];
      if (overlay && !wm.map.hasLayer(overlay.layer)) {
        overlay.layer.addTo(wm.map);  /* the layer switcher ticks it and the legend follows */
      }
    });
    line.appendChild(show);
    return line;
  }

  /* ---- controls ------------------------------------------------------- */

  function swatch(item) {
    var box = el("span", "wm-swatch wm-swatch-" + item.shape);
    if (item.shape === "line" || item.shape === "dash") {
      var svg = svgNode("svg", { width: 22, height: 10 });
      var attrs = { x1: 1, y1: 5, x2: 21, y2: 5, stroke: item.color, "stroke-width": item.weight || 1.5 };
      if (item.dash || item.shape === "dash") {
        attrs["stroke-dasharray"] = item.dash || "3 2";
      }
      svg.appendChild(svgNode("line", attrs));
      box.appendChild(svg);
    } else if (item.shape === "icon") {
      box.appendChild(kindSvg(item.kind, 16));
    } else {
      box.style.background = item.color;
    }
    return box;
  }

  function legendSection(spec) {
    var section = el("div", "wm-legend-section");
    if (spec.id) {
      section.id = spec.id;
    }
    section.appendChild(el("div", "wm-legend-title", spec.title));
    (spec.lines || []).forEach(function (line) {
      section.appendChild(el("div", "wm-legend-line", line));
    });
    var list = el("div", spec.items.length > 6 && spec.compact ? "wm-legend-items wm-cols" : "wm-legend-items");
    spec.items.forEach(function (item) {
      var line = el("div", "wm-legend-item" + (item.count === 0 ? " wm-empty" : ""));
      if (item.tip) {
        line.title = item.tip;
      }
      line.appendChild(swatch(item));
      line.appendChild(el("span", "wm-legend-label", item.label));
      if (item.count !== undefined) {
        line.appendChild(el("span", "wm-count", String(item.count)));
      }
      list.appendChild(line);
    });
    section.appendChild(list);
    return section;
  }

  function legendControl(wm) {
    var map = wm.map;
    var control = L.control({ position: "bottomright" });
    var container = el("div", "wm-panel wm-legend");
    container.id = "wm-legend";
    function render() {
      container.textContent = "";
      var theme = wm.themeLegend();
      if (theme) {
        container.appendChild(legendSection(theme));
      }
      /* the roadmap progress, when on, right under the theme (it colours areas too) */
      wm.overlays.forEach(function (o) {
        if (o.legend && o.legendFirst && map.hasLayer(o.layer)) {
          container.appendChild(legendSection(o.legend));
        }
      });
      var lines = [{ label: bi(wm.data.ui.unitBoundary), color: "#1b1b1b", shape: "line", weight: 2.5 }];
      wm.overlays.forEach(function (o) {
        if (o.boundary && map.hasLayer(o.layer)) {
          lines.push(o.boundary);
        }
      });
      container.appendChild(legendSection({ title: bi(wm.data.ui.boundaries), items: lines }));
      wm.overlays.forEach(function (o) {
        if (o.legend && !o.legendFirst && map.hasLayer(o.layer)) {
          container.appendChild(legendSection(o.legend));
        }
      });
    }
    control.onAdd = function () {
      L.DomEvent.disableClickPropagation(container);
      L.DomEvent.disableScrollPropagation(container);
      return container;
    };
    control.addTo(map);
    map.on("overlayadd overlayremove", render);
    wm.on(render);
    render();
    return control;
  }

  function verdictSummary(data) {
    var features = data.units.geojson.features;
    var line = el("div", "wm-summary");
    if (features.length === 1) {
      var p = features[0].properties;
      line.appendChild(el("span", null, (p.name || p.id) + ": "));
      line.appendChild(statusBadge(data, p.st || "not_assessed"));
      return line;
    }
    var counts = countBy(features, function (props) { return props.st || "not_assessed"; });
    line.appendChild(el("span", null, bi(data.ui.summary) + " (" + features.length + "): "));
    ["pass", "fail", "not_assessed"].forEach(function (key) {
      if (counts[key]) {
        var badge = statusBadge(data, key);
        badge.textContent = data.status.labels[key][0] + " " + counts[key];
        line.appendChild(badge);
        line.appendChild(document.createTextNode(" "));
      }
    });
    return line;
  }

  function titleControl(wm) {
    var map = wm.map;
    var data = wm.data;
    var t = data.title;
    var control = L.control({ position: "topleft" });
    var box = el("div", "wm-panel wm-title");
    box.id = "wm-title";
    box.appendChild(el("h1", null, t.title));
    if (t.subtitle) {
      box.appendChild(el("div", "wm-subtitle", t.subtitle));
    }
    box.appendChild(verdictSummary(data));
    if (data.progress) {
      box.appendChild(progressSummary(wm));
    }
    /* The first note (e.g. "illustrative data") stays in view; the rest folds away. */
    if (t.notes.length) {
      box.appendChild(el("div", "wm-title-note", t.notes[0]));
    }
    var others = data.findings ? data.findings.other : [];
    if (t.notes.length > 1 || t.sources.length || others.length) {
      var details = el("details", "wm-details");
      details.appendChild(el("summary", null, bi(data.ui.notesAndSources)));
      t.notes.slice(1).forEach(function (note) {
        details.appendChild(el("div", "wm-title-note", note));
      });
      if (others.length) {
        details.appendChild(el("div", "wm-sources-h", bi(data.ui.otherFindings) + ":"));
        var found = el("ul", "wm-sources");
        others.forEach(function (s) { found.appendChild(el("li", null, s)); });
        details.appendChild(found);
      }
      if (t.sources.length) {
        details.appendChild(el("div", "wm-sources-h", bi(data.ui.sources) + ":"));
        var list = el("ul", "wm-sources");
        t.sources.forEach(function (s) { list.appendChild(el("li", null, s)); });
        details.appendChild(list);
      }
      box.appendChild(details);
    }
    var print = el("button", "wm-print", bi(data.ui.print));
    print.type = "button";
    L.DomEvent.on(print, "click", function () { global.print(); });
    box.appendChild(print);
    control.onAdd = function () {
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    control.addTo(map);
  }

  function themeControl(wm) {
    var data = wm.data;
    var control = L.control({ position: "topright" });
    var box = el("div", "wm-panel wm-theme");
    box.id = "wm-theme";
    var label = el("label", "wm-theme-label", bi(data.ui.colourBy));
    var select = el("select");
    select.id = "wm-theme-select";
    label.htmlFor = select.id;
    var groups = {};
    wm.themes.forEach(function (theme) {
      if (!groups[theme.group]) {
        groups[theme.group] = el("optgroup");
        groups[theme.group].label = groupLabel(data, theme);
        select.appendChild(groups[theme.group]);
      }
      var option = el("option", null, bi(theme.label));
      option.value = theme.id;
      groups[theme.group].appendChild(option);
    });
    var modes = el("div", "wm-modes");
    var radios = {};
    ["status", "gap"].forEach(function (mode) {
      var wrap = el("label", "wm-mode");
      var input = el("input");
      input.type = "radio";
      input.name = "wm-mode";
      input.value = mode;
      radios[mode] = input;
      wrap.appendChild(input);
      wrap.appendChild(document.createTextNode(" " + bi(mode === "gap" ? data.ui.showGap : data.ui.showStatus)));
      modes.appendChild(wrap);
      L.DomEvent.on(input, "change", function () { wm.setTheme(wm.theme.id, mode); });
    });
    L.DomEvent.on(select, "change", function () { wm.setTheme(select.value); });
    function sync() {
      select.value = wm.theme.id;
      var gapable = !!(wm.theme.def && wm.theme.def.classes);
      radios.gap.disabled = !gapable;
      radios.status.checked = wm.mode === "status";
      radios.gap.checked = wm.mode === "gap";
      modes.style.display = wm.theme.kind === "criterion" ? "" : "none";
    }
    wm.on(sync);
    box.appendChild(label);
    box.appendChild(select);
    box.appendChild(modes);
    control.onAdd = function () {
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    control.addTo(wm.map);
    sync();
  }

  /* A search box for hamlet and commune names; diacritics and case are optional. */
  function searchControl(wm) {
    var data = wm.data;
    var entries = [];
    ["hamlet", "unit"].forEach(function (level) {
      var spec = levelSpec(data, level);
      if (!spec) {
        return;
      }
      spec.geojson.features.forEach(function (f) {
        if (f.properties.name) {
          entries.push({ level: level, feature: f, key: fold(f.properties.name) });
        }
      });
    });
    var control = L.control({ position: "topleft" });
    var box = el("div", "wm-panel wm-search");
    box.id = "wm-search";
    var input = el("input");
    input.type = "search";
    input.placeholder = bi(data.ui.search);
    input.setAttribute("aria-label", bi(data.ui.search));
    var list = el("ul", "wm-results");
    box.appendChild(input);
    box.appendChild(list);
    var found = [];
    function go(entry) {
      var bounds = L.geoJSON(entry.feature).getBounds();
      wm.map.fitBounds(bounds, { maxZoom: 16, padding: [40, 40] });
      wm.openPopup(entry.level, entry.feature.properties);
      list.textContent = "";
    }
    function update() {
      var q = fold(input.value);
      list.textContent = "";
      found = [];
      if (!q) {
        return;
      }
      found = entries.filter(function (e) { return e.key.indexOf(q) >= 0; });
      found.sort(function (a, b) {
        var sa = a.key.indexOf(q) === 0 || a.key.indexOf(" " + q) >= 0 ? 0 : 1;
        var sb = b.key.indexOf(q) === 0 || b.key.indexOf(" " + q) >= 0 ? 0 : 1;
        return sa - sb || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
      });
      found = found.slice(0, 8);
      if (!found.length) {
        list.appendChild(el("li", "wm-na", bi(data.ui.noMatch)));
      }
      found.forEach(function (entry) {
        var li = el("li", "wm-result");
        li.appendChild(el("span", null, entry.feature.properties.name));
        var sub = entry.feature.properties.unit || bi(levelSpec(data, entry.level).level);
        li.appendChild(el("span", "wm-en", " · " + sub));
        L.DomEvent.on(li, "click", function () { go(entry); });
        list.appendChild(li);
      });
    }
    L.DomEvent.on(input, "input", update);
    L.DomEvent.on(input, "keydown", function (e) {
      if (e.key === "Enter" && found.length) {
        go(found[0]);
      } else if (e.key === "Escape") {
        input.value = "";
        update();
      }
    });
    control.onAdd = function () {
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    control.addTo(wm.map);
  }

  function layerSwitcher(wm) {
    var entries = {};
    wm.overlays.forEach(function (o) {
      entries[escapeHtml(o.name)] = o.layer;
    });
    var base = wm.data.basemap;
    var tiles = L.tileLayer(base.url, { attribution: escapeHtml(base.attribution), maxZoom: 19 });
    entries[escapeHtml(bi(base.label))] = tiles;
    var control = L.control.layers(null, entries, { collapsed: false, position: "topright" });
    control.addTo(wm.map);
    control.getContainer().id = "wm-layers";
    return control;
  }

  /* Overlays: name in the switcher, layer, legend section, on by default. */
  function buildOverlays(wm) {
    var data = wm.data;
    var out = [];
    if (data.hamlets) {
      var lines = wm.outlines("hamlet", "wm-outlines",
        { color: "#2b2b2b", weight: 1, opacity: 0.8, fill: false, dashArray: "3 2" });
      var names = new NameLayer(data.hamlets.geojson.features, data.labelMinZoom.hamlet, "wm-label",
        function (props) { return wm.theme.level === "hamlet" && wm.theme.kind === "criterion" ? gapText(wm.theme.def, rowOf(props, wm.theme.index)) : ""; });
      wm.names.push(names);
      out.push({
        name: bi(data.ui.hamletLines), on: true, layer: L.layerGroup([lines, names]),
        boundary: { label: bi(data.ui.hamletBoundary), color: "#2b2b2b", shape: "dash" }
      });
    }
    if (data.units.geojson.features.length > 1) {
      var unitNames = new NameLayer(data.units.geojson.features, data.labelMinZoom.unit, "wm-ulabel",
        function (props) { return wm.theme.level === "unit" && wm.theme.kind === "criterion" ? gapText(wm.theme.def, rowOf(props, wm.theme.index)) : ""; });
      wm.names.push(unitNames);
      out.push({ name: bi(data.ui.unitNames), on: true, layer: unitNames });
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
          title: bi(data.ui.infrastructure), compact: true,
          items: data.infrastructure.present.map(function (i) {
            var kind = data.infrastructure.kinds[i];
            return { label: bi(kind.label), kind: kind, shape: "icon" };
          })
        }
      });
    }
    if (data.progress) {
      out.push({
        id: "progress", name: bi(data.ui.progress), on: false, layer: progressLayer(wm),
        legend: progressLegend(wm), legendFirst: true
      });
    }
    if (data.findings && data.findings.geojson.features.length) {
      out.push({
        name: bi(data.ui.findings), on: true, layer: findingsLayer(data),
        legend: {
          title: bi(data.ui.findings),
          items: data.findings.kinds.map(function (k) {
            return { label: bi(k.label), color: k.color, shape: "line", weight: 3, dash: "8 5" };
          })
        }
      });
    }
    return out;
  }

  /* Fit the features between the title block (left) and the legend and switchers (right)
   * when the window is wide enough; on a narrow screen the panels overlap the map. */
  function fitClearOfPanels(map, bounds) {
    var pad = panelPadding(map);
    POPUP_OPTIONS.autoPanPaddingTopLeft[0] = pad.left;
    POPUP_OPTIONS.autoPanPaddingBottomRight[0] = pad.right;
    map.fitBounds(bounds, {
      paddingTopLeft: [pad.left, 24], paddingBottomRight: [pad.right, 24], animate: false
    });
  }

  function themeFromAddress(wm) {
    var match = /[#&]theme=([^&]+)(?:&mode=(\w+))?/.exec(global.location.hash || "");
    if (!match) {
      return;
    }
    var id = decodeURIComponent(match[1]);
    if (wm.themes.some(function (t) { return t.id === id; })) {
      wm.theme = wm.themes.filter(function (t) { return t.id === id; })[0];
      wm.mode = match[2] === "gap" && wm.theme.def && wm.theme.def.classes ? "gap" : "status";
    }
  }

  global.wardMapInit = function (map, data) {
    document.documentElement.lang = "vi";
    map.setMinZoom(5);
    map.setMaxZoom(19);
    map.attributionControl.setPrefix("Leaflet");
    makePanes(map);
    var wm = new WardMap(map, data);
    wm.names = [];
    themeFromAddress(wm);
    /* Panels first, then the view, then the layers: each shape is projected once, at the
     * zoom it is shown at. */
    wm.unitLayer = wm.areaLayer("unit", "wm-units");
    /* Commune boundaries above hamlets and parcels; without those, the fills' own edges. */
    var unitLines = data.hamlets || data.landuse
      ? wm.outlines("unit", "wm-outlines", { color: "#1b1b1b", weight: 2.5, opacity: 0.9, fill: false })
      : null;
    wm.ownEdges = !unitLines;
    if (data.hamlets) {
      wm.hamletLayer = wm.areaLayer("hamlet", "wm-hamlets");
    }
    titleControl(wm);
    searchControl(wm);
    L.control.zoom({ position: "topleft" }).addTo(map);
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
    themeControl(wm);
    wm.overlays = buildOverlays(wm);
    layerSwitcher(wm);
    legendControl(wm);
    fitClearOfPanels(map, data.bounds);
    wm.unitLayer.addTo(map);
    if (unitLines) {
      unitLines.addTo(map);
    }
    wm.overlays.forEach(function (o) {
      if (o.on) {
        o.layer.addTo(map);
      }
    });
    wm.setTheme(wm.theme.id, wm.mode, true);
    global.wardMap = wm;
  };
})(window);
