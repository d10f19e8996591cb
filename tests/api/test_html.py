"""The HTML pages of the API, on a real server: French by default and for
``Accept-Language: fr``, English for ``lang=en`` / ``Accept-Language: en``; every asset
served by geocommune itself (no CDN); links to the map; basemap from the setting.

The pages need ``scripts/assets.sh`` (npm assets in server/static/vendor/, compiled French
catalogue). The browser test runs when Chromium (/usr/bin/chromium) and Playwright's Python
driver are installed; Playwright only drives that Chromium (never ``playwright install``).

GeoPackage store only (``gpkg_only``): the pages are pygeoapi's templates over the same
provider answers, which tests/postgis/test_parity.py checks equal on both stores; the
escaping of item pages is checked on both stores in test_http.py.
"""

from __future__ import annotations

import gettext
import html
import re
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
import requests
from pygeoapi import l10n as pygeoapi_l10n
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from layers.settings import Settings
from layers.store import GeoPackageStore
from server.app import create_app
from server.assets import CATALOGUE_MO, CATALOGUE_PO, TEMPLATES_DIR, missing_assets
from server.pygeoapi_config import BASEMAPS

from .conftest import FIELDS, LAYER, layer_frame

pytestmark = pytest.mark.gpkg_only

CHROMIUM = Path("/usr/bin/chromium")
TILE_HOSTS = {urlparse(url).hostname for url, _ in BASEMAPS.values()}
ITEM = "dae-000"

# page → words that must appear, per language (from our catalogue and our templates).
PAGES = {
    "/": {
        "fr": ["Accueil", "Collections", "Voir les collections de ce service", "Définition de l'API",
               "Conformité", "Voir sur la carte", "Propulsé par"],
        "en": ["Home", "Collections", "View the collections in this service", "API Definition",
               "Conformance", "View on the map", "Powered by"],
    },
    "/collections": {
        "fr": ["Collections", "Collections de données de ce service", "Nom", "Carte"],
        "en": ["Collections", "Data collections in this service", "Name", "Map"],
    },
    f"/collections/{LAYER}": {
        "fr": ["Parcourir les entités de", "Champs interrogeables", "Schéma", "Licence", "Voir sur la carte"],
        "en": ["Browse through the items of", "Queryables", "Schema", "License", "View on the map"],
    },
    f"/collections/{LAYER}/items": {
        "fr": ["Entités", "Entités de cette collection", "Suivant", "Voir sur la carte"],
        "en": ["Items", "Items in this collection", "Next", "View on the map"],
    },
    f"/collections/{LAYER}/items/{ITEM}": {
        "fr": ["Entités", "Propriété", "Valeur", "Liens"],
        "en": ["Items", "Property", "Value", "Links"],
    },
}
# English that must not remain on a French page.
NOT_FRENCH = ["Powered by", "Home", "View on the map", "Browse through", "Items in this collection", "Property"]

# How the page's language is asked for → the language expected.
LANGUAGE_REQUESTS = {
    "default": ({}, {}, "fr"),
    "accept-fr": ({}, {"Accept-Language": "fr-FR,fr;q=0.9"}, "fr"),
    "accept-en": ({}, {"Accept-Language": "en-GB,en;q=0.8"}, "en"),
    "lang-en": ({"lang": "en"}, {}, "en"),
    "lang-fr-over-accept-en": ({"lang": "fr"}, {"Accept-Language": "en"}, "fr"),
}

# <link rel> values a browser fetches; other <link>s (license, alternate…) are not requests.
FETCHED_LINK_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload",
                     "prefetch", "manifest", "mask-icon"}
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""")
CSS_IMPORT = re.compile(r"""@import\s+(['"])(.*?)\1""")
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)


@pytest.fixture(scope="module", autouse=True)
def _assets_built():
    missing = missing_assets()
    if missing:
        pytest.fail("ressources web absentes — lancez « bash scripts/assets.sh » : " + ", ".join(missing))


class _Page(HTMLParser):
    """What a browser would fetch from the HTML itself, and the <html lang>."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.refs: list[tuple[str, str]] = []  # (what, url)
        self.anchors: list[tuple[str, str]] = []  # (href, text)
        self._anchor: list[str] | None = None
        self._href = ""
        self._style = False
        self.styles: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag in ("script", "img", "iframe", "source", "audio", "video", "embed", "input") and a.get("src"):
            self.refs.append((f"<{tag} src>", a["src"]))
        elif tag == "link" and a.get("href"):
            rels = set((a.get("rel") or "").lower().split())
            if rels & FETCHED_LINK_RELS:
                self.refs.append((f"<link rel={a.get('rel')}>", a["href"]))
        elif tag == "a":
            self._anchor, self._href = [], a.get("href") or ""
        elif tag == "style":
            self._style = True
        if a.get("style"):
            self.styles.append(a["style"])
        if tag == "img" and a.get("srcset"):
            for candidate in a["srcset"].split(","):
                self.refs.append(("<img srcset>", candidate.split()[0]))

    def handle_endtag(self, tag):
        if tag == "a" and self._anchor is not None:
            self.anchors.append((self._href, " ".join("".join(self._anchor).split())))
            self._anchor = None
        elif tag == "style":
            self._style = False

    def handle_data(self, data):
        if self._anchor is not None:
            self._anchor.append(data)
        if self._style:
            self.styles.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def css_refs(css: str) -> list[str]:
    css = CSS_COMMENT.sub("", css)
    return [m.group(2) for m in CSS_URL.finditer(css)] + [m.group(2) for m in CSS_IMPORT.finditer(css)]


def get_page(server, path: str, params: dict | None = None, headers: dict | None = None) -> requests.Response:
    response = requests.get(server.url + path, params={"f": "html", **(params or {})}, headers=headers or {},
                            timeout=30)
    assert response.status_code == 200, f"{path} {params} {headers}: {response.status_code}\n{response.text[:500]}"
    assert response.headers["Content-Type"].startswith("text/html")
    # pygeoapi's Content-Type may lack a charset; the page declares UTF-8 itself.
    assert '<meta charset="utf-8">' in response.text.lower()
    response.encoding = "utf-8"
    return response


@lru_cache(maxsize=None)
def _fetch(url: str) -> tuple[int, str, str]:
    response = requests.get(url, timeout=30)
    return response.status_code, response.headers.get("Content-Type", ""), response.text


def check_local(server, base: str, refs: list[tuple[str, str]], seen: set[str]) -> list[str]:
    """Every reference resolves on the server and answers 200; CSS is followed (url(), @import)."""
    origin = urlparse(server.url).netloc
    problems = []
    for what, ref in refs:
        if ref.startswith(("data:", "#")):
            continue
        url = urljoin(base, ref).split("#")[0]
        if urlparse(url).netloc != origin:
            problems.append(f"{what} {ref!r} on {base}: not served by geocommune")
            continue
        if url in seen:
            continue
        seen.add(url)
        status, content_type, body = _fetch(url)
        if status != 200:
            problems.append(f"{what} {ref!r} on {base}: HTTP {status}")
        elif "css" in content_type or urlparse(url).path.endswith(".css"):
            problems += check_local(server, url, [("css url()", r) for r in css_refs(body)], seen)
    return problems


# -- language ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", list(PAGES))
@pytest.mark.parametrize("how", list(LANGUAGE_REQUESTS))
def test_pages_in_the_requested_language(server, path, how):
    params, headers, lang = LANGUAGE_REQUESTS[how]
    response = get_page(server, path, params, headers)
    page = parse(response.text)
    assert page.lang == lang
    text = html.unescape(response.text)
    for word in PAGES[path][lang]:
        assert word in text, f"{path} ({how}) : « {word} » absent"
    if lang == "fr":
        visible = re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", text, flags=re.S)
        for english in NOT_FRENCH:
            assert english not in visible, f"{path} ({how}) : anglais restant « {english} »"
    assert response.headers.get("Content-Language", lang).startswith(lang)


def test_language_switch_in_the_header(server):
    fr = parse(get_page(server, "/").text)
    en = parse(get_page(server, "/", {"lang": "en"}).text)
    assert ("?lang=en", "English") in fr.anchors
    assert ("?lang=fr", "Français") in en.anchors


def test_french_catalogue_covers_every_template_message():
    """Every {% trans %} of pygeoapi's templates and ours is translated, and the compiled
    .mo is the current .po (else: bash scripts/assets.sh)."""
    import pygeoapi

    method_map = [("**.html", "jinja2")]
    wanted = set()
    for folder in (Path(pygeoapi.__file__).parent / "templates", TEMPLATES_DIR):
        for _file, _line, message, _comments, _context in extract_from_dir(folder, method_map):
            wanted.add(message if isinstance(message, str) else message[0])
    with CATALOGUE_PO.open("rb") as handle:
        catalogue = read_po(handle)
    translated = {m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy}
    assert sorted(wanted - set(translated)) == [], "messages sans traduction française"
    with CATALOGUE_MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [msgid for msgid, text in translated.items() if compiled.gettext(msgid) != text]
    assert stale == [], "messages.mo périmé : relancez bash scripts/assets.sh"


# -- assets: all local --------------------------------------------------------------------
@pytest.mark.parametrize("path", [*PAGES, "/conformance", f"/collections/{LAYER}/queryables",
                                  f"/collections/{LAYER}/schema", "/openapi"])
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_asset_is_served_by_geocommune(server, path, lang):
    response = get_page(server, path, {"lang": lang})
    page = parse(response.text)
    refs = list(page.refs)
    for style in page.styles:
        refs += [("inline style url()", r) for r in css_refs(style)]
    assert refs, f"{path}: aucune ressource trouvée (analyse cassée ?)"
    for cdn in ("unpkg.com", "jsdelivr", "cdnjs", "googleapis", "bootstrapcdn", "code.jquery.com"):
        assert cdn not in response.text, f"{path}: {cdn}"
    problems = check_local(server, response.url, refs, set())
    assert problems == []


def test_redoc_page_uses_local_swagger_ui(server):
    response = get_page(server, "/openapi", {"ui": "redoc"})
    assert "vendor/swagger-ui/swagger-ui-bundle.js" in response.text
    assert check_local(server, response.url, parse(response.text).refs, set()) == []


def test_vendor_css_files_reference_only_local_files(server):
    """The CSS of the map's plugins too (fonts, marker images), not only what pages use."""
    from server.assets import VENDOR_CSS

    refs = [("css", f"/static/{path}") for path in VENDOR_CSS.values()]
    assert check_local(server, server.url + "/", refs, set()) == []


# -- links to the map --------------------------------------------------------------------
@pytest.mark.parametrize(
    "lang, path, label",
    [("fr", "/carte", "Voir sur la carte"), ("en", "/map", "View on the map")],
)
def test_links_to_the_map(server, lang, path, label):
    landing = parse(get_page(server, "/", {"lang": lang}).text)
    assert (server.url + path, label) in landing.anchors
    for page_path in (f"/collections/{LAYER}", f"/collections/{LAYER}/items"):
        page = parse(get_page(server, page_path, {"lang": lang}).text)
        assert (f"{server.url}{path}?layer={LAYER}", label) in page.anchors, page_path


# -- basemap setting ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("html") / "data"
    GeoPackageStore(data).publish(LAYER, layer_frame(12), {"licence": "lo-2.0", "source": {"name": "dae.csv"}},
                                  FIELDS)
    return data


@pytest.mark.parametrize("basemap", ["osm", "ign", "none"])
def test_basemap_comes_from_the_setting(data_dir, basemap):
    # pygeoapi caches the translated configuration per language for the whole process
    # (l10n._cfg_cache): a second app in this process would render the first one's basemap.
    pygeoapi_l10n._cfg_cache.clear()
    app = create_app(Settings(data_dir=data_dir, basemap=basemap, host="127.0.0.1", port=5999))
    client = app.test_client()
    for path in (f"/collections/{LAYER}", f"/collections/{LAYER}/items", f"/collections/{LAYER}/items/{ITEM}"):
        html = client.get(path, query_string={"f": "html"}).get_data(as_text=True)
        if basemap == "none":
            assert "L.tileLayer" not in html and "TileLayer" not in html, path
            assert not any(host in html for host in TILE_HOSTS), path
        else:
            template = BASEMAPS[basemap][0]
            assert html.count("L.tileLayer(") == 1, path
            assert urlparse(template).hostname in html, path
            others = TILE_HOSTS - {urlparse(template).hostname}
            assert not any(host in html for host in others), path


# -- a real browser -----------------------------------------------------------------------
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium absent (/usr/bin/chromium) : apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=BROWSER_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _load(browser, server, path: str, lang: str):
    """Load a page; return (requests to other hosts, failed local requests, JS errors, page)."""
    origin = urlparse(server.url).netloc
    outside, failed, errors = [], [], []
    context = browser.new_context(locale="fr-FR" if lang == "fr" else "en-GB")
    page = context.new_page()

    def route(route):
        if urlparse(route.request.url).netloc == origin or route.request.url.startswith("data:"):
            route.continue_()
        else:  # recorded, never sent: the tests do not touch the internet
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: failed.append(request.url)
            if urlparse(request.url).netloc == origin else None)
    page.on("response", lambda response: failed.append(f"{response.status} {response.url}")
            if response.status >= 400 and urlparse(response.url).netloc == origin else None)
    page.goto(f"{server.url}{path}{'&' if '?' in path else '?'}f=html", wait_until="networkidle")
    return outside, failed, errors, page, context


@pytest.mark.parametrize("path", [f"/collections/{LAYER}/items", f"/collections/{LAYER}", "/",
                                  f"/collections/{LAYER}/items/{ITEM}", "/openapi"])
def test_browser_requests_only_geocommune_and_tiles(browser, server, path):
    outside, failed, errors, page, context = _load(browser, server, path, "fr")
    try:
        assert errors == [], "erreurs JavaScript"
        assert failed == [], "requêtes locales en échec"
        hosts = {urlparse(url).hostname for url in outside}
        assert hosts <= TILE_HOSTS, f"requêtes vers des tiers : {sorted(hosts - TILE_HOSTS)}"
        assert page.evaluate("document.documentElement.lang") == "fr"
        if path.endswith("/items"):
            assert page.evaluate("typeof L.markerClusterGroup") == "function"
            count = page.evaluate(
                "document.querySelectorAll('.leaflet-marker-icon, .marker-cluster').length")
            assert count > 0, "aucun marqueur sur la carte"
            assert any(urlparse(url).hostname == "tile.openstreetmap.org" for url in outside), \
                "pas de tuile demandée (basemap osm par défaut)"
        if path == "/openapi":
            page.wait_for_selector(".swagger-ui .info", timeout=15_000)
    finally:
        context.close()


def test_browser_keeps_the_chosen_language(browser, server):
    """English chosen with ?lang=en on a French browser stays English from page to page, and
    the language switch keeps the page's other parameters (static/js/geocommune.js)."""
    outside, failed, errors, page, context = _load(browser, server, "/?lang=en", "fr")
    try:
        assert page.evaluate("document.documentElement.lang") == "en"
        page.click("main a[href*=\"/collections?f=html\"]")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert "lang=en" in page.url
        page.goto(f"{server.url}/collections/{LAYER}/items?f=html&limit=5", wait_until="networkidle")
        assert page.evaluate("document.documentElement.lang") == "fr"
        switch = page.get_attribute("a[data-lang-switch]", "href")
        assert "limit=5" in switch and "lang=en" in switch
        page.click("a[data-lang-switch]")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.evaluate("document.querySelectorAll('#items table tbody tr').length") == 5
        assert errors == [] and failed == []
    finally:
        context.close()


@pytest.mark.gpkg_only
@pytest.mark.parametrize("lang, words", [("fr", ("Réutiliser les données", "Catalogue DCAT-AP", "Fréquentation")),
                                         ("en", ("Reuse the data", "DCAT-AP catalogue", "Usage figures"))])
def test_landing_page_points_to_reuse(server, lang, words, store_kind):
    page = requests.get(server.url + "/", params={"f": "html", "lang": lang}, timeout=10)
    assert page.status_code == 200
    page.encoding = "utf-8"
    for word in words:
        assert word in page.text
    for path in ("/catalogue.jsonld", "/stats"):
        hrefs = re.findall(r'href="([^"]*' + re.escape(path) + r'[^"]*)"', page.text)
        assert hrefs, path
        assert requests.get(hrefs[0].replace("&amp;", "&"), timeout=10).status_code == 200
