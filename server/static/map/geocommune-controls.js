/* geocommune — carte des habitants : our controls (needs geocommune-map.js first).
 *
 * Every control is made of real buttons, inputs and links with French (or English)
 * labels, reachable with the keyboard; panels open with a button carrying
 * aria-expanded and close with Escape. Results are announced in a polite live region.
 */
(function () {
  'use strict';

  var GC = window.GeoCommune;
  var el = GC.el, fmt = GC.fmt;

  function control(position, className, build) {
    var Control = L.Control.extend({
      options: { position: position },
      onAdd: function (map) {
        var box = el('div', { className: 'leaflet-control gc-control ' + className });
        build(box, map);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      }
    });
    return new Control();
  }

  var panelCount = 0;
  // A button that shows and hides ``body``; Escape closes and gives the focus back.
  function disclosure(box, label, body, openAtStart, iconHtml) {
    panelCount += 1;
    body.id = body.id || 'gc-panel-' + panelCount;
    var button = el('button', { type: 'button', className: 'gc-toggle', 'aria-expanded': openAtStart ? 'true' : 'false', 'aria-controls': body.id });
    if (iconHtml) button.insertAdjacentHTML('beforeend', iconHtml);
    button.appendChild(el('span', { className: 'gc-toggle-text', text: label }));
    body.hidden = !openAtStart;
    function set(open) { button.setAttribute('aria-expanded', open ? 'true' : 'false'); body.hidden = !open; }
    button.addEventListener('click', function () { set(body.hidden); });
    box.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' && !body.hidden) { set(false); button.focus(); }
    });
    box.appendChild(button);
    box.appendChild(body);
    return { button: button, set: set };
  }
  function roomy() { return window.matchMedia && window.matchMedia('(min-width: 1400px) and (min-height: 900px)').matches; }

  // -- accessibility filters → CQL2 -----------------------------------------------------
  GC.filterPanel = function (map, id) {
    var state = GC.state(), t = state.t, layer = GC.layer(id), cfg = layer.cfg;
    control('topright', 'gc-filter', function (box) {
      var boxes = [];
      var count = el('p', { className: 'gc-filter-count', 'aria-live': 'polite' });
      var fieldset = el('fieldset', {}, [el('legend', { text: t.filters_legend })]);
      cfg.filters.forEach(function (choice) {
        var input = el('input', { type: 'checkbox', value: choice.key, 'data-cql': choice.cql });
        boxes.push({ input: input, choice: choice });
        fieldset.appendChild(el('label', { className: 'gc-check' }, [input, ' ' + choice.label]));
      });
      var reset = el('button', { type: 'button', className: 'gc-link', text: t.filters_reset });
      var body = el('div', { className: 'gc-panel-body' }, [fieldset, reset, count]);
      disclosure(box, t.filters + ' (' + cfg.name + ')', body, false,
        '<span class="gc-toggle-icon" aria-hidden="true">' + GC.svg['venue-yes'] + '</span>');
      function apply() {
        var parts = boxes.filter(function (b) { return b.input.checked; }).map(function (b) { return b.choice.cql; });
        layer.awaitingCount = true;
        GC.setFilter(id, parts.join(' AND '));
        if (!map.hasLayer(layer.group)) map.addLayer(layer.group);
      }
      boxes.forEach(function (b) { b.input.addEventListener('change', apply); });
      reset.addEventListener('click', function () {
        boxes.forEach(function (b) { b.input.checked = false; });
        apply();
      });
      layer.onDraw.push(function (drawn, result) {
        var text = fmt(t.filters_count, { n: GC.number(result.matched) });
        count.textContent = text;
        if (drawn.awaitingCount) { drawn.awaitingCount = false; GC.announce(cfg.name + ' : ' + text); }
      });
    }).addTo(map);
  };

  // -- nearest working defibrillator ------------------------------------------------------
  GC.nearestControl = function (map, id, locate) {
    var state = GC.state(), t = state.t, layer = GC.layer(id), cfg = layer.cfg;
    var drawn = L.layerGroup().addTo(map);
    var busy = false;

    function position() {
      return new Promise(function (resolve) {
        var fallback = function () { resolve({ latlng: map.getCenter(), source: 'centre' }); };
        if (!navigator.geolocation) { fallback(); return; }
        navigator.geolocation.getCurrentPosition(function (found) {
          resolve({ latlng: L.latLng(found.coords.latitude, found.coords.longitude), source: 'position', accuracy: found.coords.accuracy });
        }, fallback, { enableHighAccuracy: true, timeout: 10000, maximumAge: 30000 });
      });
    }

    function show(origin, feature) {
      drawn.clearLayers();
      var c = feature.geometry.coordinates;
      var target = L.latLng(c[1], c[0]);
      var distance = GC.metres(feature.distance);
      var name = (cfg.title_field && feature.properties[cfg.title_field]) || t.unnamed;
      L.polyline([origin.latlng, target], { color: '#fff', weight: 8, opacity: 0.9, interactive: false }).addTo(drawn);
      L.polyline([origin.latlng, target], { color: '#000', weight: 4, dashArray: '10 7', interactive: false, className: 'gc-nearest-line' }).addTo(drawn);
      var originLabel = origin.source === 'position' ? t.your_position : t.map_centre;
      L.circleMarker(origin.latlng, { radius: 8, color: '#fff', weight: 3, fillColor: '#0072B2', fillOpacity: 1, className: 'gc-origin' })
        .bindTooltip(originLabel).addTo(drawn);
      var line = el('p', { className: 'gc-popup-distance', text: fmt(t.nearest_distance, { distance: distance }) });
      var marker = L.marker(target, {
        icon: GC.markerIcon('dae-on', name + ' — ' + fmt(t.nearest_distance, { distance: distance }), 'gc-nearest-target'),
        title: name, keyboard: true, zIndexOffset: 1000
      }).bindPopup(GC.popupContent(layer, feature, line), GC.popupOptions()).addTo(drawn);
      map.fitBounds(L.latLngBounds([origin.latlng, target]), { padding: [60, 60], maxZoom: 18 });
      marker.openPopup();
      var message = fmt(t.nearest_found, { name: name, distance: distance });
      if (origin.source === 'centre') message = t.nearest_from_centre + ' ' + message;
      GC.announce(message);
      state.debug.nearest = { id: String(feature.id), distance: feature.distance, source: origin.source,
        origin: [origin.latlng.lng, origin.latlng.lat], name: name };
    }

    function run(button) {
      if (busy) return;
      busy = true;
      button.setAttribute('aria-busy', 'true');
      GC.announce(t.nearest_locating);
      var known = state.lastLocation;
      var where = known ? Promise.resolve({ latlng: known, source: 'position' }) : position();
      where.then(function (origin) {
        GC.announce(t.nearest_searching);
        var params = { lon: origin.latlng.lng.toFixed(6), lat: origin.latlng.lat.toFixed(6), k: 1 };
        if (cfg.nearest_filter) { params.filter = cfg.nearest_filter; params['filter-lang'] = 'cql2-text'; }
        return GC.getJSON(GC.url(cfg.url + '/nearest', params)).then(function (collection) {
          if (!collection.features.length) {
            GC.announce(t.nearest_none);
            state.debug.nearest = { id: null, source: origin.source };
            return;
          }
          if (!map.hasLayer(layer.group)) map.addLayer(layer.group);
          show(origin, collection.features[0]);
        });
      }).catch(function (error) {
        GC.announce(t.nearest + ' : ' + (error && error.message || ''));
      }).then(function () {
        busy = false;
        button.removeAttribute('aria-busy');
      });
    }

    control('topleft', 'gc-nearest', function (box) {
      var button = el('button', { type: 'button', className: 'gc-nearest-button', title: t.nearest_help });
      button.insertAdjacentHTML('beforeend', GC.svg['dae-on']);
      button.appendChild(el('span', { text: t.nearest }));
      button.addEventListener('click', function () { run(button); });
      box.appendChild(button);
    }).addTo(map);

    if (locate && locate._link) {
      // The locate control's button: our words, and a name for screen readers.
      locate._link.setAttribute('aria-label', t.locate);
      locate._link.setAttribute('title', t.locate);
    }
  };

  // -- search by name ------------------------------------------------------------------------
  // CQL2 LIKE is case-sensitive here: every word typed must appear in the name as typed,
  // in lower case, capitalised or in capitals (« mairie bourg » finds « Mairie de
  // Bourg-en-Bresse »). Words are split at spaces, hyphens and apostrophes.
  function likeVariants(word) {
    var lower = word.toLowerCase();
    var variants = [word, lower, lower.charAt(0).toUpperCase() + lower.slice(1), word.toUpperCase()];
    return variants.filter(function (v, i) { return variants.indexOf(v) === i; });
  }
  function cqlString(text) { return "'" + text.replace(/'/g, "''") + "'"; }
  function likePattern(text) { return '%' + text.replace(/[\\%_]/g, '\\$&') + '%'; }
  GC.searchFilter = function (field, text) {
    var words = text.split(/[\s\-'\u2019]+/).filter(Boolean).slice(0, 6);
    return words.map(function (word) {
      return '(' + likeVariants(word).map(function (v) { return field + ' LIKE ' + cqlString(likePattern(v)); }).join(' OR ') + ')';
    }).join(' AND ');
  };

  GC.searchControl = function (map) {
    var state = GC.state(), t = state.t;
    var searchable = state.order.map(GC.layer).filter(function (layer) { return layer.cfg.search_field; });
    if (!searchable.length) return;
    control('topright', 'gc-search', function (box) {
      var input = el('input', { type: 'search', id: 'gc-search-input', placeholder: t.search_placeholder, autocomplete: 'off', enterkeyhint: 'search' });
      var submit = el('button', { type: 'submit', className: 'gc-search-button', 'aria-label': t.search_button, title: t.search_button });
      submit.innerHTML = '<svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true" focusable="false"><circle cx="8.5" cy="8.5" r="5.5" fill="none" stroke="currentColor" stroke-width="2.2"/><path d="M12.5 12.5 18 18" stroke="currentColor" stroke-width="2.4" stroke-linecap="round"/></svg>';
      var results = el('ul', { className: 'gc-search-results', id: 'gc-search-results' });
      var message = el('p', { className: 'gc-search-message', role: 'status' });
      var form = el('form', { role: 'search', 'aria-label': t.search }, [
        el('label', { 'for': 'gc-search-input', className: 'gc-visually-hidden', text: t.search }), input, submit
      ]);
      box.appendChild(form);
      box.appendChild(message);
      box.appendChild(results);
      var seq = 0;
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        var text = input.value.trim();
        results.innerHTML = '';
        if (text.length < 2) { message.textContent = t.search_short; return; }
        var mine = ++seq;
        message.textContent = t.loading;
        Promise.all(searchable.map(function (layer) {
          var params = { f: 'json', limit: 8, filter: GC.searchFilter(layer.cfg.search_field, text), 'filter-lang': 'cql2-text',
            properties: layer.cfg.search_field };
          return GC.getJSON(GC.url(layer.cfg.url + '/items', params)).then(function (collection) {
            return collection.features.map(function (feature) { return { layer: layer, feature: feature }; });
          }).catch(function () { return []; });
        })).then(function (lists) {
          if (mine !== seq) return; // a newer search was typed meanwhile
          var hits = [].concat.apply([], lists).filter(function (hit) { return hit.feature.geometry; });
          message.textContent = hits.length ? fmt(t.search_results, { n: hits.length }) : t.search_none;
          hits.forEach(function (hit) {
            var name = hit.feature.properties[hit.layer.cfg.search_field] || t.unnamed;
            var button = el('button', { type: 'button', className: 'gc-search-hit' }, [
              el('span', { text: name }), el('small', { text: ' — ' + hit.layer.cfg.name })
            ]);
            button.addEventListener('click', function () { choose(hit); });
            results.appendChild(el('li', {}, [button]));
          });
        });
      });
      function choose(hit) {
        var g = hit.feature.geometry;
        var point = g.type === 'Point' ? [g.coordinates[1], g.coordinates[0]] : null;
        if (!map.hasLayer(hit.layer.group)) map.addLayer(hit.layer.group);
        GC.openWhenDrawn(hit.layer.id, hit.feature.id);
        if (point) map.setView(point, 18);
        else map.fitBounds(L.geoJSON(hit.feature).getBounds(), { maxZoom: 18 });
        results.innerHTML = '';
        message.textContent = '';
      }
    }).addTo(map);
  };

  // -- legend ----------------------------------------------------------------------------------
  function swatch(category) {
    return '<svg viewBox="0 0 36 12" width="36" height="12" aria-hidden="true" focusable="false"><line x1="1" y1="6" x2="35" y2="6" stroke="' +
      category.color + '" stroke-width="' + Math.min(6, category.weight) + '"' + (category.dash ? ' stroke-dasharray="' + category.dash + '"' : '') + '/></svg>';
  }
  GC.legend = function (map) {
    var state = GC.state(), t = state.t;
    control('bottomright', 'gc-legend', function (box) {
      var list = el('ul', { className: 'gc-legend-list' });
      function item(symbolHtml, text) {
        var li = el('li', {}, [el('span', { className: 'gc-legend-symbol' }), el('span', { text: text })]);
        li.firstChild.innerHTML = symbolHtml;
        list.appendChild(li);
      }
      state.order.map(GC.layer).forEach(function (layer) {
        var cfg = layer.cfg;
        if (cfg.icon === 'dae') { item(GC.svg['dae-on'], t.legend_dae_on); item(GC.svg['dae-off'], t.legend_dae_off); }
        else if (cfg.icon === 'venue') {
          item(GC.svg['venue-yes'], t.legend_venue_yes); item(GC.svg['venue-no'], t.legend_venue_no);
          item(GC.svg['venue-unknown'], t.legend_venue_unknown);
        } else if (cfg.icon === 'bike-parking') item(GC.svg['bike-parking'], t.legend_bike_parking);
        else if (cfg.kind === 'lines') {
          list.appendChild(el('li', { className: 'gc-legend-heading', text: cfg.name }));
          (cfg.categories || []).forEach(function (category) { item(swatch(category), category.label); });
        } else item(GC.svg.generic, cfg.name);
      });
      item('<span class="gc-aggregate gc-legend-aggregate" aria-hidden="true"><span>12</span></span>', t.legend_aggregate);
      disclosure(box, t.legend, el('div', { className: 'gc-panel-body' }, [list]), roomy());
    }).addTo(map);
  };

  // -- language ----------------------------------------------------------------------------------
  GC.languageSwitch = function (map) {
    var state = GC.state(), t = state.t, other = state.cfg.otherLanguage;
    control('topright', 'gc-language', function (box) {
      var query = state.cfg.focus ? '?layer=' + encodeURIComponent(state.cfg.focus) : '';
      var link = el('a', { href: other.url + query, hreflang: other.lang, lang: other.lang, className: 'gc-language-link',
        'aria-label': t.other_language_label, text: t.other_language });
      box.appendChild(link);
      var previous = GC.onViewChange;
      GC.onViewChange = function (hash) {
        link.setAttribute('href', other.url + query + hash);
        if (previous) previous(hash);
      };
    }).addTo(map);
  };
})();
