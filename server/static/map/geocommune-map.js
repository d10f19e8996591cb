/* geocommune — carte des habitants (/carte, /map) : le cœur.
 *
 * The page (built with Folium) holds no feature: this script asks the OGC API for what is
 * in view — /collections/{id}/items?bbox=…&limit=… — on load and after each pan or zoom.
 *
 * - One request in flight per layer. A view that changes meanwhile is requested when the
 *   current request ends, and a response for a view that is no longer current is dropped
 *   (never drawn): no pile-up on a slow network, no stale markers.
 * - Points go into a MarkerCluster group. When the view holds more than the layer's
 *   `limit`, the map shows the server's counts per area (/collections/{id}/aggregate)
 *   instead of an arbitrary sample; the density seen so far lets it skip the /items
 *   request when the view obviously holds too many.
 * - Popups are filled on opening from /collections/{id}/items/{fid}: the view's requests
 *   carry only what the markers need (id, position, name, state).
 * Controls (filter panel, nearest defibrillator, search, legend, language) are in
 * geocommune-controls.js.
 */
(function () {
  'use strict';

  var GC = window.GeoCommune = window.GeoCommune || {};
  var state = null; // one map per page

  // -- small helpers ------------------------------------------------------------------
  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (whole, key) {
      return values[key] === undefined ? whole : values[key];
    });
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === 'text') node.textContent = value;
      else if (key === 'className') node.className = value;
      else node.setAttribute(key, value === true ? '' : value);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }
  function number(value, options) {
    return new Intl.NumberFormat(state.lang, options || {}).format(value);
  }
  function metres(value) { return number(Math.round(value)); }
  function compact(value) {
    return new Intl.NumberFormat(state.lang, { notation: 'compact', maximumFractionDigits: 1 }).format(value);
  }
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function url(path, params) {
    var query = Object.keys(params || {}).filter(function (k) {
      return params[k] !== undefined && params[k] !== null && params[k] !== '';
    }).map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]); }).join('&');
    return path + (query ? '?' + query : '');
  }
  function getJSON(address) {
    state.debug.requests.push(address);
    return fetch(address, { headers: { Accept: 'application/geo+json, application/json' }, credentials: 'same-origin' })
      .then(function (response) {
        if (!response.ok) {
          return response.json().catch(function () { return {}; }).then(function (body) {
            var error = new Error(body.description || ('HTTP ' + response.status));
            error.status = response.status;
            throw error;
          });
        }
        return response.json();
      });
  }
  GC.fmt = fmt; GC.el = el; GC.number = number; GC.metres = metres; GC.getJSON = getJSON; GC.url = url;
  GC.escapeHtml = escapeHtml;

  // -- icons (inline SVG: no image request, no icon font) -----------------------------
  var HEART = 'M16 25.5 7.6 17.4a5 5 0 0 1 8.4-5.6 5 5 0 0 1 8.4 5.6z';
  var BOLT = 'M17.3 12.6 13.6 18h3l-1.4 5.4 4.2-6.2h-3.1z';
  var SVG = {
    'dae-on': '<svg viewBox="0 0 32 32" width="30" height="30" aria-hidden="true" focusable="false">' +
      '<rect x="1.5" y="1.5" width="29" height="29" rx="6" fill="#009E73" stroke="#fff" stroke-width="2"/>' +
      '<path d="' + HEART + '" fill="#fff"/><path d="' + BOLT + '" fill="#009E73"/></svg>',
    'dae-off': '<svg viewBox="0 0 32 32" width="26" height="26" aria-hidden="true" focusable="false">' +
      '<rect x="1.5" y="1.5" width="29" height="29" rx="6" fill="#6B6B6B" stroke="#fff" stroke-width="2" stroke-dasharray="4 2"/>' +
      '<path d="' + HEART + '" fill="#fff"/><path d="M8 8 24 24" stroke="#000" stroke-width="3"/></svg>',
    'venue-yes': '<svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false">' +
      '<circle cx="16" cy="16" r="14.5" fill="#0072B2" stroke="#fff" stroke-width="2"/>' +
      '<circle cx="15" cy="8.5" r="2.2" fill="#fff"/><path d="M13.5 11.5v6h6l2.5 5.5" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"/>' +
      '<path d="M12 14.5a5.5 5.5 0 1 0 7.4 6.2" fill="none" stroke="#fff" stroke-width="2.2"/></svg>',
    'venue-no': '<svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false">' +
      '<path d="M16 1.5 30.5 16 16 30.5 1.5 16z" fill="#E69F00" stroke="#fff" stroke-width="2"/>' +
      '<path d="M9 21h4v-4h4v-4h5" fill="none" stroke="#000" stroke-width="2.4" stroke-linejoin="round"/></svg>',
    'venue-unknown': '<svg viewBox="0 0 32 32" width="24" height="24" aria-hidden="true" focusable="false">' +
      '<circle cx="16" cy="16" r="14" fill="#fff" stroke="#6B6B6B" stroke-width="3"/>' +
      '<text x="16" y="22" font-size="17" font-family="sans-serif" font-weight="bold" text-anchor="middle" fill="#333">?</text></svg>',
    'bike-parking': '<svg viewBox="0 0 32 32" width="26" height="26" aria-hidden="true" focusable="false">' +
      '<rect x="1.5" y="1.5" width="29" height="29" rx="4" fill="#CC79A7" stroke="#fff" stroke-width="2"/>' +
      '<circle cx="9.5" cy="21" r="4.2" fill="none" stroke="#000" stroke-width="2"/><circle cx="22.5" cy="21" r="4.2" fill="none" stroke="#000" stroke-width="2"/>' +
      '<path d="M9.5 21 13.5 13h7l2 8M13.5 13 16 21h-6.5M12 10.5h3" fill="none" stroke="#000" stroke-width="1.8" stroke-linejoin="round"/></svg>',
    'generic': '<svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true" focusable="false">' +
      '<circle cx="16" cy="16" r="12" fill="#0072B2" stroke="#fff" stroke-width="3"/></svg>'
  };
  GC.svg = SVG;

  function iconKind(layer, props) {
    var cfg = layer.cfg;
    if (cfg.icon === 'dae') {
      var working = cfg.working;
      return working && props[working.field] === working.value ? 'dae-on' : 'dae-off';
    }
    if (cfg.icon === 'venue') {
      if (props.entree_plain_pied === true || props.entree_pmr === true) return 'venue-yes';
      if (props.entree_plain_pied === false) return 'venue-no';
      return 'venue-unknown';
    }
    return SVG[cfg.icon] ? cfg.icon : 'generic';
  }
  GC.iconKind = iconKind;

  function featureLabel(layer, props) {
    var name = layer.cfg.title_field ? props[layer.cfg.title_field] : null;
    return name ? String(name) : layer.cfg.name;
  }

  function markerIcon(kind, label, extraClass) {
    return L.divIcon({
      className: 'gc-marker gc-' + kind + (extraClass ? ' ' + extraClass : ''),
      html: SVG[kind] + '<span class="gc-visually-hidden">' + escapeHtml(label) + '</span>',
      iconSize: [30, 30], iconAnchor: [15, 15], popupAnchor: [0, -14]
    });
  }
  GC.markerIcon = markerIcon;

  function clusterIconFunction(layer) {
    return function (cluster) {
      var n = cluster.getChildCount();
      var size = n < 10 ? 34 : n < 100 ? 40 : 48;
      return L.divIcon({
        className: 'gc-cluster gc-cluster-' + (layer.cfg.icon || 'generic'),
        html: '<span aria-hidden="true">' + escapeHtml(compact(n)) + '</span><span class="gc-visually-hidden">' +
          escapeHtml(layer.cfg.name + ' : ' + fmt(state.t.cluster_title, { n: number(n) })) + '</span>',
        iconSize: [size, size]
      });
    };
  }

  // -- popups ---------------------------------------------------------------------------
  function formatValue(row, props) {
    var t = state.t;
    var value = Array.isArray(row.field) ? null : props[row.field];
    function translate(v) {
      if (row.values && row.values[v] !== undefined) return row.values[v];
      if (row.lower && typeof v === 'string') { var s = v.toLowerCase(); return s.charAt(0).toUpperCase() + s.slice(1); }
      return String(v);
    }
    switch (row.type) {
      case 'join':
        var parts = row.field.map(function (f) { return props[f]; }).filter(function (v) { return v !== null && v !== undefined && v !== ''; });
        return parts.length ? parts.join(' ') : null;
      case 'bool':
        if (value === true) return t.yes;
        if (value === false) return t.no;
        return null;
      case 'list':
        if (!Array.isArray(value) || !value.length) return null;
        return value.map(translate).join(', ');
      case 'date':
        if (!value) return null;
        var date = new Date(String(value).length === 10 ? value + 'T00:00:00Z' : value);
        if (isNaN(date.getTime())) return String(value);
        return new Intl.DateTimeFormat(state.lang, { dateStyle: 'long', timeZone: 'UTC' }).format(date);
      case 'number':
        return typeof value === 'number' ? number(value) : (value === null || value === undefined ? null : String(value));
      case 'url':
        return /^https?:\/\//i.test(value || '') ? { href: value } : null;
      case 'enum':
      default:
        if (value === null || value === undefined || value === '') return null;
        return translate(value);
    }
  }

  function popupContent(layer, feature, extra) {
    var props = feature.properties || {};
    var rows = [];
    (layer.cfg.popup || []).forEach(function (row) {
      var value = formatValue(row, props);
      if (value === null || value === undefined) return;
      var dd = typeof value === 'object'
        ? el('dd', {}, [el('a', { href: value.href, rel: 'noopener noreferrer', target: '_blank', text: value.href.replace(/^https?:\/\//i, '').replace(/\/$/, '') })])
        : el('dd', { text: value });
      rows.push(el('dt', { text: row.label }));
      rows.push(dd);
    });
    var title = layer.cfg.title_field ? props[layer.cfg.title_field] : null;
    var box = el('div', { className: 'gc-popup', lang: state.lang }, [
      el('h2', { className: 'gc-popup-title', text: title || layer.cfg.name }),
      title ? el('p', { className: 'gc-popup-layer', text: layer.cfg.name }) : null,
      extra || null,
      rows.length ? el('dl', {}, rows) : null,
      el('p', { className: 'gc-popup-link' }, [
        el('a', { href: layer.cfg.url + '/items/' + encodeURIComponent(feature.id), text: state.t.popup_link })
      ])
    ]);
    return box;
  }
  GC.popupContent = popupContent;

  // Popups scroll rather than cover a phone's whole screen.
  function popupOptions() {
    return { maxWidth: 320, maxHeight: Math.max(180, Math.round(state.map.getSize().y * 0.55)), autoPanPadding: [20, 20] };
  }
  GC.popupOptions = popupOptions;

  function bindLazyPopup(layer, target, featureId) {
    target.bindPopup(el('div', { className: 'gc-popup', text: state.t.loading }), popupOptions());
    target.on('popupopen', function (event) {
      if (target._gcFilled) return;
      var popup = event.popup;
      getJSON(url(layer.cfg.url + '/items/' + encodeURIComponent(featureId), { f: 'json' })).then(function (feature) {
        target._gcFilled = true;
        popup.setContent(popupContent(layer, feature));
      }).catch(function () {
        popup.setContent(el('div', { className: 'gc-popup', text: state.t.popup_error }));
      });
    });
  }

  // -- the view -------------------------------------------------------------------------
  function viewBox() {
    var b = state.map.getBounds();
    var floor = function (v) { return Math.floor(v * 1e5) / 1e5; };
    var ceil = function (v) { return Math.ceil(v * 1e5) / 1e5; };
    return [Math.max(-180, floor(b.getWest())), Math.max(-90, floor(b.getSouth())),
      Math.min(180, ceil(b.getEast())), Math.min(90, ceil(b.getNorth()))];
  }
  function area(box) { return Math.max(1e-12, (box[2] - box[0]) * (box[3] - box[1])); }

  function setStatus(layer, text) {
    layer.statusText = text;
    if (layer.statusNode) layer.statusNode.textContent = text;
  }

  // -- loading ----------------------------------------------------------------------------
  function request(layer) {
    if (!state.started || !state.map.hasLayer(layer.group)) return;
    layer.seq += 1;
    if (!layer.inflight) run(layer);
  }
  GC.request = request;

  function run(layer) {
    var seq = layer.seq;
    var view = { box: viewBox(), zoom: state.map.getZoom(), filter: layer.filter };
    layer.inflight = true;
    load(layer, view, function () { return seq !== layer.seq; }).then(function (result) {
      if (seq !== layer.seq) { layer.stats.dropped += 1; return; }
      if (result) draw(layer, result, view);
    }).catch(function (error) {
      if (seq !== layer.seq) { layer.stats.dropped += 1; return; }
      layer.stats.errors += 1;
      layer.stats.lastError = String(error && error.message || error);
      setStatus(layer, fmt(state.t.status_error, { layer: layer.cfg.name }));
    }).then(function () {
      layer.inflight = false;
      if (seq !== layer.seq && state.map.hasLayer(layer.group)) run(layer);
    });
  }

  function filterParams(layer, view) {
    return view.filter ? { filter: view.filter, 'filter-lang': 'cql2-text' } : {};
  }

  function load(layer, view, stale) {
    var cfg = layer.cfg;
    var estimate = layer.density !== null && layer.densityFilter === view.filter
      ? Math.min(cfg.count || Infinity, layer.density * area(view.box)) : null;
    var aggregateFirst = cfg.kind === 'points' && estimate !== null && estimate > 2 * cfg.limit;
    if (aggregateFirst) return loadAggregate(layer, view);
    var params = { f: 'json', bbox: view.box.join(','), limit: cfg.limit };
    if (cfg.fields && cfg.fields.length) params.properties = cfg.fields.join(',');
    Object.assign(params, filterParams(layer, view));
    return getJSON(url(cfg.url + '/items', params)).then(function (collection) {
      var matched = typeof collection.numberMatched === 'number' ? collection.numberMatched : collection.features.length;
      layer.density = matched / area(view.box);
      layer.densityFilter = view.filter;
      if (cfg.kind === 'points' && matched > collection.features.length) {
        if (stale()) return null;
        return loadAggregate(layer, view);
      }
      return { mode: collection.features.length < matched ? 'partial' : 'features', collection: collection, matched: matched };
    });
  }

  function loadAggregate(layer, view) {
    var level = Math.min(22, Math.max(0, Math.round(view.zoom) + 2));
    var params = Object.assign({ bbox: view.box.join(','), level: level }, filterParams(layer, view));
    return getJSON(url(layer.cfg.url + '/aggregate', params)).then(function (collection) {
      layer.density = collection.numberMatched / area(view.box);
      layer.densityFilter = view.filter;
      return { mode: 'aggregate', collection: collection, matched: collection.numberMatched };
    });
  }

  // -- drawing ------------------------------------------------------------------------------
  function draw(layer, result, view) {
    layer.stats.mode = result.mode;
    layer.stats.matched = result.matched;
    layer.stats.box = view.box;
    layer.stats.filter = view.filter;
    layer.stats.draws += 1;
    layer.stats.lastDrawAt = performance.now();
    if (layer.stats.firstDrawAt === undefined) layer.stats.firstDrawAt = layer.stats.lastDrawAt;
    var name = layer.cfg.name;
    if (result.mode === 'aggregate') {
      drawAggregate(layer, result.collection);
      layer.stats.shown = 0;
      setStatus(layer, fmt(state.t.status_aggregate, { layer: name, total: number(result.matched) }));
    } else {
      var shown = layer.cfg.kind === 'points' ? drawPoints(layer, result.collection) : drawLines(layer, result.collection);
      layer.stats.shown = shown;
      setStatus(layer, result.mode === 'partial'
        ? fmt(state.t.status_partial, { layer: name, n: number(shown), total: number(result.matched) })
        : fmt(state.t.status_features, { layer: name, n: number(shown) }));
    }
    layer.stats.ids = Array.from(layer.features.keys()).slice(0, 5000);
    (layer.onDraw || []).forEach(function (callback) { callback(layer, result); });
    GC.openPending(layer);
  }

  var AGGREGATE_OFFSETS = [[14, 10], [-14, 10], [0, -14], [14, -14], [-14, -14]];

  function drawAggregate(layer, collection) {
    if (layer.cluster) layer.cluster.clearLayers();
    layer.features.clear();
    layer.aggregate.clearLayers();
    var offset = AGGREGATE_OFFSETS[state.order.indexOf(layer.id) % AGGREGATE_OFFSETS.length];
    collection.features.forEach(function (feature) {
      var count = feature.properties.count;
      var c = feature.geometry.coordinates;
      var size = Math.round(Math.min(64, 30 + 8 * Math.log10(Math.max(1, count))));
      var label = layer.cfg.name + ' : ' + fmt(state.t.aggregate_title, { n: number(count) });
      var marker = L.marker([c[1], c[0]], {
        keyboard: true,
        title: label,
        icon: L.divIcon({
          className: 'gc-aggregate gc-aggregate-' + (layer.cfg.icon || 'generic'),
          html: '<span aria-hidden="true">' + escapeHtml(compact(count)) + '</span><span class="gc-visually-hidden">' + escapeHtml(label) + '</span>',
          iconSize: [size, size],
          // Layers share the tiles: each draws its counts a little aside, never on top of another.
          iconAnchor: [size / 2 + offset[0], size / 2 + offset[1]]
        })
      });
      var b = feature.properties.bbox;
      marker.on('click', function () { state.map.fitBounds([[b[1], b[0]], [b[3], b[2]]]); });
      layer.aggregate.addLayer(marker);
    });
  }

  function drawPoints(layer, collection) {
    layer.aggregate.clearLayers();
    var keep = new Set();
    var added = [];
    collection.features.forEach(function (feature) {
      var geometry = feature.geometry;
      if (!geometry || geometry.type !== 'Point') return;
      var key = String(feature.id);
      keep.add(key);
      if (layer.features.has(key)) return;
      var props = feature.properties || {};
      var label = featureLabel(layer, props);
      var marker = L.marker([geometry.coordinates[1], geometry.coordinates[0]], {
        icon: markerIcon(iconKind(layer, props), label),
        title: label,
        keyboard: true,
        riseOnHover: true
      });
      marker.feature = feature;
      bindLazyPopup(layer, marker, key);
      layer.features.set(key, marker);
      added.push(marker);
    });
    var removed = [];
    layer.features.forEach(function (marker, key) {
      if (!keep.has(key)) { removed.push(marker); layer.features.delete(key); }
    });
    if (removed.length) layer.cluster.removeLayers(removed);
    if (added.length) layer.cluster.addLayers(added);
    return layer.features.size;
  }

  function lineStyle(layer, props) {
    var categories = layer.cfg.categories || [];
    var chosen = categories[categories.length - 1];
    for (var i = 0; i < categories.length; i++) {
      var c = categories[i];
      var ame = c.ame || [], regime = c.regime || [];
      if (ame.indexOf(props.ame_d) >= 0 || ame.indexOf(props.ame_g) >= 0 ||
          regime.indexOf(props.regime_d) >= 0 || regime.indexOf(props.regime_g) >= 0) { chosen = c; break; }
    }
    return chosen;
  }
  GC.lineStyle = lineStyle;

  function drawLines(layer, collection) {
    var keep = new Set();
    collection.features.forEach(function (feature) {
      if (!feature.geometry) return;
      var key = String(feature.id);
      keep.add(key);
      if (layer.features.has(key)) return;
      var category = lineStyle(layer, feature.properties || {});
      var path = L.geoJSON(feature, {
        style: function () {
          return { color: category.color, weight: category.weight, dashArray: category.dash || null, opacity: 0.95, lineCap: 'butt' };
        }
      });
      path.gcCategory = category.key;
      bindLazyPopup(layer, path, key);
      layer.features.set(key, path);
      layer.lines.addLayer(path);
    });
    layer.features.forEach(function (path, key) {
      if (!keep.has(key)) { layer.lines.removeLayer(path); layer.features.delete(key); }
    });
    return layer.features.size;
  }

  // -- public entry points (called by the Folium elements) ----------------------------------
  GC.setup = function (map, config) {
    state = {
      map: map, cfg: config, lang: config.lang, t: config.texts, base: config.base,
      layers: {}, order: [], byId: {}, started: false, pendingOpen: null,
      debug: { requests: [], nearest: null }
    };
    map._gc = state;
    config.layers.forEach(function (layer) { state.byId[layer.id] = layer; });
    var container = map.getContainer();
    container.setAttribute('aria-label', state.t.map_label);
    container.setAttribute('aria-roledescription', state.lang === 'fr' ? 'carte' : 'map');
    container.setAttribute('lang', state.lang);
    // Controls before the markers in the keyboard order (their corners are positioned by CSS).
    container.insertBefore(map._controlContainer, container.firstChild);
    if (map.zoomControl) {
      map.zoomControl._zoomInButton.setAttribute('title', state.t.zoom_in);
      map.zoomControl._zoomInButton.setAttribute('aria-label', state.t.zoom_in);
      map.zoomControl._zoomOutButton.setAttribute('title', state.t.zoom_out);
      map.zoomControl._zoomOutButton.setAttribute('aria-label', state.t.zoom_out);
    }
    L.control.scale({ imperial: false, position: 'bottomleft' }).addTo(map);
    var Status = L.Control.extend({
      options: { position: 'bottomleft' },
      onAdd: function () {
        var box = el('div', { className: 'leaflet-control gc-status' });
        state.statusBox = box;
        state.announcer = el('div', { className: 'gc-visually-hidden', role: 'status', 'aria-live': 'polite' });
        box.appendChild(state.announcer);
        L.DomEvent.disableClickPropagation(box);
        return box;
      }
    });
    new Status().addTo(map);
    map.on('locationfound', function (event) { state.lastLocation = event.latlng; });
    if (config.basemap === 'none') container.classList.add('gc-no-basemap');
  };

  GC.announce = function (text) {
    if (!state.announcer) return;
    state.announcer.textContent = '';
    window.setTimeout(function () { state.announcer.textContent = text; }, 50);
  };

  GC.liveLayer = function (map, id, group, cluster) {
    var cfg = state.byId[id];
    var layer = {
      id: id, cfg: cfg, group: group, cluster: cluster, seq: 0, inflight: false, filter: '',
      features: new Map(), aggregate: L.layerGroup(), lines: null, density: null, densityFilter: '',
      onDraw: [], stats: { requests: 0, draws: 0, dropped: 0, errors: 0, mode: null, shown: 0, matched: null }
    };
    if (cfg.extent && cfg.count) {
      var e = cfg.extent;
      layer.density = cfg.count / Math.max(1e-12, (e[2] - e[0]) * (e[3] - e[1]));
    }
    group.addLayer(layer.aggregate);
    if (cluster) cluster.options.iconCreateFunction = clusterIconFunction(layer);
    else { layer.lines = L.featureGroup(); group.addLayer(layer.lines); }
    layer.statusNode = el('p', { className: 'gc-status-line' });
    if (state.statusBox) state.statusBox.appendChild(layer.statusNode);
    var attribution = cfg.attribution ? '<a href="' + escapeHtml(cfg.url) + '">' + escapeHtml(cfg.attribution.name) + '</a>' +
      (state.lang === 'fr' ? '\u00a0: ' : ': ') + escapeHtml(cfg.attribution.licence) : null;
    function credit(on) {
      if (attribution && map.attributionControl) map.attributionControl[on ? 'addAttribution' : 'removeAttribution'](attribution);
    }
    if (map.hasLayer(group)) credit(true);
    group.on('add', function () { layer.statusNode.hidden = false; credit(true); request(layer); });
    group.on('remove', function () { layer.statusNode.hidden = true; credit(false); layer.seq += 1; });
    state.layers[id] = layer;
    state.order.push(id);
  };

  GC.layer = function (id) { return state.layers[id]; };
  GC.state = function () { return state; };

  GC.setFilter = function (id, cql) {
    var layer = state.layers[id];
    layer.filter = cql || '';
    request(layer);
  };

  // A feature to open once its layer has drawn it (search results).
  GC.openWhenDrawn = function (id, featureId) {
    state.pendingOpen = { layer: id, feature: String(featureId) };
  };
  GC.openPending = function (layer) {
    var pending = state.pendingOpen;
    if (!pending || pending.layer !== layer.id) return;
    var target = layer.features.get(pending.feature);
    if (!target) return;
    state.pendingOpen = null;
    if (layer.cluster) layer.cluster.zoomToShowLayer(target, function () { target.openPopup(); });
    else target.openPopup();
  };

  function parseHash() {
    var m = /^#(\d{1,2})\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)$/.exec(window.location.hash || '');
    if (!m) return null;
    var zoom = +m[1], lat = +m[2], lon = +m[3];
    if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
    return { zoom: zoom, center: [lat, lon] };
  }
  function viewHash() {
    var c = state.map.getCenter();
    return '#' + state.map.getZoom() + '/' + c.lat.toFixed(5) + '/' + c.lng.toFixed(5);
  }

  GC.start = function (map) {
    var view = parseHash();
    if (view) map.setView(view.center, view.zoom, { animate: false });
    else map.fitBounds(state.cfg.bounds, { padding: [12, 12], maxZoom: 17, animate: false });
    state.started = true;
    var toggle = map.getContainer().querySelector('.leaflet-control-layers-toggle');
    if (toggle) { toggle.setAttribute('title', state.t.layers); toggle.setAttribute('aria-label', state.t.layers); }
    var timer = null;
    function moved() {
      timer = null;
      var hash = viewHash();
      if (window.history && window.history.replaceState) window.history.replaceState(null, '', hash);
      if (GC.onViewChange) GC.onViewChange(hash);
      state.order.forEach(function (id) { request(state.layers[id]); });
    }
    map.on('moveend', function () {
      if (timer) window.clearTimeout(timer);
      timer = window.setTimeout(moved, 60);
    });
    moved();
  };

  // For tests and the benchmark: what each layer asked and shows.
  GC.debug = function () {
    var layers = {};
    state.order.forEach(function (id) {
      var layer = state.layers[id];
      layers[id] = Object.assign({ filter: layer.filter, inflight: layer.inflight, seq: layer.seq,
        onMap: state.map.hasLayer(layer.group), aggregateMarkers: layer.aggregate.getLayers().length,
        status: layer.statusText }, layer.stats);
    });
    return { layers: layers, requests: state.debug.requests.slice(), nearest: state.debug.nearest,
      zoom: state.map.getZoom(), bbox: viewBox() };
  };
})();
