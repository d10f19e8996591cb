"""The residents' map in Debian's headless Chromium (Playwright): clean load, live bbox
loading, accessibility filters, nearest defibrillator with a mocked position, both
languages, keyboard and ARIA. The first test saves a screenshot (its path is printed)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import shapely
from pyproj import Geod

from .conftest import debug

GEOD = Geod(ellps="WGS84")
LAYERS = ("defibrillateurs", "amenagements-cyclables", "lieux-accessibles", "stationnement-velo")
PAGE_BUDGET = 300 * 1024  # bytes: the target for the page itself


def _view(page, lat: float, lon: float, zoom: int) -> dict:
    before = {k: v["draws"] for k, v in debug(page)["layers"].items()}
    page.evaluate("([lat, lon, z]) => { GeoCommune.state().map.setView([lat, lon], z, {animate: false}); }", [lat, lon, zoom])
    _wait_redrawn(page, before)
    return debug(page)


def _wait_redrawn(page, before: dict, layers=None) -> None:
    page.wait_for_function(
        """([before, names]) => { const d = GeoCommune.debug().layers;
             return (names || Object.keys(d)).every(k => !d[k].onMap || (d[k].draws > before[k] && !d[k].inflight)); }""",
        arg=[before, layers], timeout=15_000,
    )


def _items_params(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_loads_clean_every_layer_shows_features_and_screenshot(open_map, map_server, tmp_path):
    watched = open_map("/carte")
    page = watched.page
    state = debug(page)
    for layer in LAYERS:
        info = state["layers"][layer]
        count = map_server.store.metadata(layer)["geometry_count"]
        assert info["errors"] == 0, info
        assert info["mode"] == "features", info
        assert info["shown"] == count > 0, info
    # Drawn for real: clusters or markers of each point layer, and the cycle paths' SVG.
    assert page.locator(".gc-cluster-dae, .gc-dae-on").count() > 0
    assert page.locator(".gc-cluster-venue, [class*='gc-venue-']").count() > 0
    assert page.locator(".gc-cluster-bike-parking, .gc-bike-parking").count() > 0
    assert page.locator("path.leaflet-interactive").count() > 100
    assert watched.errors == [], watched.console
    assert watched.failed == [], watched.failed
    assert watched.third_party == [], watched.third_party
    assert watched.tiles > 0  # the basemap asked for tiles (answered locally)
    # Each layer asked only for the view, with a limit.
    for layer in LAYERS:
        (first, *_) = watched.api_requests(f"/collections/{layer}/items")
        params = _items_params(first)
        assert len(params["bbox"].split(",")) == 4 and int(params["limit"]) > 0
    # The page's own weight (HTML, scripts, styles, images), as transferred.
    weight = page.evaluate(
        """() => { const own = performance.getEntriesByType('resource')
                     .filter(r => !r.name.includes('/collections/') && r.name.startsWith(location.origin));
                   const nav = performance.getEntriesByType('navigation')[0];
                   return nav.transferSize + own.reduce((s, r) => s + r.transferSize, 0); }"""
    )
    assert 0 < weight <= PAGE_BUDGET, weight
    shot = tmp_path / "carte.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    print(f"\ncapture d'écran de la carte : {shot} (page : {weight / 1024:.0f} Kio)")


def test_panning_requests_the_new_bbox_and_shows_new_features(open_map):
    watched = open_map("/carte")
    page = watched.page
    state = _view(page, 46.205, 5.225, 15)
    dae = state["layers"]["defibrillateurs"]
    assert dae["mode"] == "features" and dae["shown"] > 0
    before_ids, before_box = set(dae["ids"]), dae["box"]
    sent = len(watched.api_requests("/collections/defibrillateurs/items"))
    draws = {k: v["draws"] for k, v in state["layers"].items()}
    # A real drag with the mouse, 500 px to the left: the map moves east.
    page.mouse.move(900, 450)
    page.mouse.down()
    page.mouse.move(650, 450, steps=5)
    page.mouse.move(400, 450, steps=5)
    page.mouse.up()
    _wait_redrawn(page, draws)
    after = debug(page)["layers"]["defibrillateurs"]
    requests_after = watched.api_requests("/collections/defibrillateurs/items")
    assert len(requests_after) > sent
    new_bbox = [float(v) for v in _items_params(requests_after[-1])["bbox"].split(",")]
    assert new_bbox != before_box and new_bbox[0] > before_box[0]
    assert set(after["ids"]) - before_ids, "le déplacement n'a montré aucun nouveau défibrillateur"
    assert watched.errors == [] and watched.failed == []


def test_stale_responses_are_dropped(open_map):
    # The first defibrillator request made after __gcDelay is set answers 1.2 s late.
    delay = """
      const realFetch = window.fetch.bind(window);
      window.fetch = (address, options) => {
        if (window.__gcDelay && String(address).includes('/collections/defibrillateurs/items?')) {
          window.__gcDelay = false;
          return new Promise(resolve => setTimeout(resolve, 1200)).then(() => realFetch(address, options));
        }
        return realFetch(address, options);
      };"""
    watched = open_map("/carte", init_script=delay)
    page = watched.page
    _view(page, 46.205, 5.225, 15)
    before = {k: v["draws"] for k, v in debug(page)["layers"].items()}
    page.evaluate("() => { window.__gcDelay = true; GeoCommune.state().map.setView([46.19, 5.20], 15, {animate: false}); }")
    page.wait_for_timeout(300)  # the slow response is still on its way…
    page.evaluate("() => { GeoCommune.state().map.setView([46.22, 5.25], 16, {animate: false}); }")
    _wait_redrawn(page, before, ["defibrillateurs"])
    page.wait_for_function("() => !GeoCommune.debug().layers.defibrillateurs.inflight")
    state = debug(page)
    dae = state["layers"]["defibrillateurs"]
    assert dae["dropped"] >= 1
    assert dae["box"] == state["bbox"]  # what is drawn is the current view's answer
    inside = page.evaluate(
        """() => { const l = GeoCommune.layer('defibrillateurs'); const b = GeoCommune.debug().bbox;
                   return Array.from(l.features.values()).every(m => { const p = m.getLatLng();
                     return p.lng >= b[0] && p.lng <= b[2] && p.lat >= b[1] && p.lat <= b[3]; }); }"""
    )
    assert inside
    assert watched.errors == [] and watched.failed == []


def _venues_where(store, *conditions) -> int:
    frame = store.read_layer("lieux-accessibles")
    mask = np.ones(len(frame), dtype=bool)
    for condition in conditions:
        mask &= condition(frame).fillna(False).to_numpy(dtype=bool)
    return int(mask.sum())


def test_accessibility_filter_changes_the_request_and_the_result(open_map, map_server):
    watched = open_map("/carte")
    page = watched.page
    store = map_server.store
    total = store.metadata("lieux-accessibles")["geometry_count"]
    assert debug(page)["layers"]["lieux-accessibles"]["shown"] == total
    toggle = page.get_by_role("button", name="Filtres d'accessibilité (Lieux accessibles)")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"

    def choose(label: str):
        before = {k: v["draws"] for k, v in debug(page)["layers"].items()}
        page.get_by_label(label).click()
        _wait_redrawn(page, before, ["lieux-accessibles"])
        return debug(page)["layers"]["lieux-accessibles"]

    step_free = choose("Entrée de plain-pied")
    expected = _venues_where(store, lambda f: f["entree_plain_pied"] == True)  # noqa: E712
    assert step_free["filter"] == "entree_plain_pied = TRUE"
    assert step_free["shown"] == step_free["matched"] == expected < total
    last = _items_params(watched.api_requests("/collections/lieux-accessibles/items")[-1])
    assert last["filter"] == "entree_plain_pied = TRUE" and last["filter-lang"] == "cql2-text"
    # Every venue drawn has a step-free entrance (checked against the store, not the page).
    frame = store.read_layer("lieux-accessibles").set_index("id")
    assert frame.loc[step_free["ids"], "entree_plain_pied"].all()

    both = choose("Stationnement PMR")
    expected_both = _venues_where(store, lambda f: f["entree_plain_pied"] == True,  # noqa: E712
                                  lambda f: (f["stationnement_pmr"] == True) | (f["stationnement_ext_pmr"] == True))  # noqa: E712
    assert both["filter"] == "entree_plain_pied = TRUE AND (stationnement_pmr = TRUE OR stationnement_ext_pmr = TRUE)"
    assert both["shown"] == expected_both < expected
    assert page.locator(".gc-filter-count").inner_text().startswith(f"{expected_both} lieu")

    before = {k: v["draws"] for k, v in debug(page)["layers"].items()}
    page.get_by_role("button", name="Tout effacer").click()
    _wait_redrawn(page, before, ["lieux-accessibles"])
    assert debug(page)["layers"]["lieux-accessibles"]["shown"] == total
    assert watched.errors == [] and watched.failed == []


def _nearest_working(store, lon: float, lat: float) -> tuple[str, float]:
    frame = store.read_layer("defibrillateurs")
    frame = frame[(frame["etat_fonct"] == "En fonctionnement") & ~frame.geometry.isna()]
    x, y = shapely.get_x(frame.geometry.values), shapely.get_y(frame.geometry.values)
    _, _, d = GEOD.inv(np.full(len(x), lon), np.full(len(x), lat), x, y)
    best = int(np.lexsort((frame["id"].to_numpy(), d))[0])
    return str(frame["id"].iloc[best]), float(d[best])


def test_nearest_defibrillator_from_a_mocked_position(open_map, map_server):
    lon, lat = 5.2412, 46.2163
    watched = open_map("/carte", geolocation={"latitude": lat, "longitude": lon, "accuracy": 10},
                       permissions=["geolocation"])
    page = watched.page
    # « Me localiser » first (the locate control): the map goes to the mocked position.
    locate = page.locator(".leaflet-control-locate a").first
    assert locate.get_attribute("aria-label") == "Me localiser"
    locate.click()
    page.wait_for_function("() => !!GeoCommune.state().lastLocation")
    page.get_by_role("button", name="Défibrillateur le plus proche").click()
    page.wait_for_function("() => GeoCommune.debug().nearest && GeoCommune.debug().nearest.id")
    found = debug(page)["nearest"]
    expected_id, expected_distance = _nearest_working(map_server.store, lon, lat)
    assert found["source"] == "position"
    assert found["origin"] == pytest.approx([lon, lat], abs=1e-6)
    assert found["id"] == expected_id
    assert found["distance"] == pytest.approx(expected_distance, abs=0.01)
    request = _items_params(watched.api_requests("/collections/defibrillateurs/nearest")[-1])
    assert request["filter"] == "etat_fonct = 'En fonctionnement'"
    # Shown: a line to it, its popup with the distance in metres, and a spoken message.
    assert page.locator("path.gc-nearest-line").count() == 1
    metres = f"{round(expected_distance):,}".replace(",", "\u202f")
    distance_text = page.locator(".gc-popup-distance").inner_text()
    assert distance_text.replace("\u00a0", "\u202f") == f"À {metres} m à vol d'oiseau"
    page.wait_for_function("() => document.querySelector('[role=status][aria-live]').textContent.includes(' m ')")
    assert watched.errors == [] and watched.failed == []


def test_nearest_defibrillator_without_position_uses_the_map_centre(open_map, map_server):
    watched = open_map("/carte")  # no geolocation permission: the browser refuses
    page = watched.page
    _view(page, 46.25, 5.15, 14)
    page.get_by_role("button", name="Défibrillateur le plus proche").click()
    page.wait_for_function("() => GeoCommune.debug().nearest && GeoCommune.debug().nearest.id")
    found = debug(page)["nearest"]
    assert found["source"] == "centre"
    expected_id, _ = _nearest_working(map_server.store, *found["origin"])
    assert found["id"] == expected_id
    assert watched.errors == [] and watched.failed == []


def test_english_page(open_map, map_server):
    watched = open_map("/map?layer=defibrillateurs")
    page = watched.page
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.get_by_role("button", name="Nearest defibrillator").is_visible()
    assert page.get_by_role("link", name="Lire cette carte en français").get_attribute("href").startswith("/carte?layer=defibrillateurs")
    assert "Defibrillators" in debug(page)["layers"]["defibrillateurs"]["status"]
    # A defibrillator's popup, in English, filled from the API.
    feature = map_server.store.query("defibrillateurs", where=None, limit=1, sortby=["id"]).features[0]
    lon, lat = feature["geometry"]["coordinates"]
    _view(page, lat, lon, 18)
    page.evaluate("id => { GeoCommune.layer('defibrillateurs').features.get(id).openPopup(); }", feature["id"])
    popup = page.locator(".leaflet-popup-content .gc-popup")
    popup.locator("dl").wait_for()
    text = popup.inner_text()
    assert "Access" in text and "State" in text and "Full record in the API" in text
    link = popup.get_by_role("link", name="Full record in the API").get_attribute("href")
    assert link == f"/collections/defibrillateurs/items/{feature['id']}"
    assert watched.errors == [] and watched.failed == []


def test_keyboard_and_aria(open_map):
    watched = open_map("/carte", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = watched.page
    # Every control of ours has an accessible name.
    unnamed = page.evaluate(
        """() => Array.from(document.querySelectorAll('.gc-control button, .gc-control input, .gc-control a'))
              .filter(e => !(e.getAttribute('aria-label') || e.textContent.trim() || (e.labels && e.labels.length)
                             || e.getAttribute('title')))
              .map(e => e.outerHTML)"""
    )
    assert unnamed == []
    assert page.locator("[role=search]").count() == 1
    assert page.get_by_role("button", name="Zoom avant").count() == 1
    # Tab from the top reaches our controls before any marker.
    page.locator("body").focus()
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate(
            "() => { const e = document.activeElement; return (e.getAttribute('aria-label') || e.textContent || e.className || '').trim().slice(0, 60); }"))
    nearest_at = next(i for i, text in enumerate(reached) if "Défibrillateur le plus proche" in text)
    assert nearest_at < 10, reached
    # The legend opens and closes with the keyboard.
    legend = page.get_by_role("button", name="Légende")
    legend.focus()
    expanded = legend.get_attribute("aria-expanded")
    page.keyboard.press("Enter")
    assert legend.get_attribute("aria-expanded") != expanded
    assert watched.errors == [] and watched.failed == []


def test_search_by_name_and_cycle_path_popup(open_map, map_server):
    watched = open_map("/carte")
    page = watched.page
    # A cycle path's popup: facility types in plain French.
    page.evaluate("() => { GeoCommune.layer('amenagements-cyclables').features.values().next().value.openPopup(); }")
    page.locator(".leaflet-popup-content .gc-popup dl").wait_for()
    assert "Côté droit" in page.locator(".leaflet-popup-content .gc-popup").inner_text()
    page.evaluate("() => { GeoCommune.state().map.closePopup(); }")
    # Every line drawn has the style of its category (colour and dash from the legend).
    categories = page.evaluate(
        "() => Array.from(GeoCommune.layer('amenagements-cyclables').features.values()).map(l => l.gcCategory)")
    assert {"piste", "bande", "voie-verte", "double-sens"} <= set(categories)
    assert page.locator(".gc-legend").count() == 1

    frame = map_server.store.read_layer("lieux-accessibles")
    target = frame[frame["name"].str.startswith("Mairie")].sort_values("id").iloc[0]
    words = target["name"].split(" (")[0]  # e.g. "Mairie de Ceyzériat"
    query = words.lower()  # typed in lower case: the search still finds « Mairie … »
    page.get_by_role("searchbox", name="Rechercher un lieu par son nom").fill(query)
    page.keyboard.press("Enter")
    hit = page.locator(".gc-search-hit", has_text=words).filter(has_text="Lieux accessibles").first
    hit.wait_for()
    sent = _items_params(watched.api_requests("/collections/lieux-accessibles/items")[-1])
    assert "name LIKE '%mairie%' OR name LIKE '%Mairie%'" in sent["filter"]
    before = {k: v["draws"] for k, v in debug(page)["layers"].items()}
    hit.click()
    _wait_redrawn(page, before, ["lieux-accessibles"])
    page.locator(".leaflet-popup-content .gc-popup dl").wait_for()
    popup = page.locator(".leaflet-popup-content .gc-popup").inner_text()
    assert words in popup and "Entrée de plain-pied" in popup
    assert watched.errors == [] and watched.failed == []
