"""The generated pygeoapi configuration, the CQL2 translation and the granian options,
checked without starting a server."""

from __future__ import annotations

import inspect

import geopandas as gpd
import pytest
import shapely
from pygeoapi.config import validate_config
from pygeofilter.parsers.cql2_text import parse

from layers.catalogue import get_catalogue
from layers.settings import Settings
from layers.store import And, Comparison, GeoPackageStore, Not, Or
from server.cql import UnsupportedFilter, to_where
from server.pygeoapi_config import PROVIDER_NAME, SUPPORTED_CRS, build_config
from server.run import GRACEFUL_STOP, KEEP_ALIVE_IDLE, bind_address, server_options


@pytest.fixture
def published(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", port=5123, url="")
    store = GeoPackageStore(settings.data_dir)
    frame = gpd.GeoDataFrame(
        {"id": ["1", "2"], "nom": ["Mairie", "École"]},
        geometry=[shapely.Point(6.0, 43.5), shapely.LineString([(6.1, 43.6), (6.2, 43.7)])],
        crs="EPSG:4326",
    )
    store.publish("amenagements-cyclables", frame, {}, {"nom": "string"})
    return settings, store


def test_config_is_valid_and_lists_only_published_layers(published):
    settings, store = published
    config = build_config(settings, get_catalogue(settings.catalogue), store)
    validate_config(config)  # pygeoapi's own JSON Schema
    assert list(config["resources"]) == ["amenagements-cyclables"]
    server = config["server"]
    assert server["url"] == "http://127.0.0.1:5123"
    assert server["languages"][0] == "fr"
    assert server["limits"] == {"default_items": 10, "max_items": 10000, "on_exceed": "throttle"}
    resource = config["resources"]["amenagements-cyclables"]
    assert resource["title"] == {"fr": "Aménagements cyclables", "en": "Cycling infrastructure"}
    assert resource["extents"]["spatial"]["bbox"] == [6.0, 43.5, 6.2, 43.7]
    assert resource["extents"]["spatial"]["crs"].endswith("/OGC/1.3/CRS84")
    provider = resource["providers"][0]
    assert provider["name"] == PROVIDER_NAME and provider["id_field"] == "id"
    assert provider["data"] == str(store.path("amenagements-cyclables").resolve())
    assert provider["crs"] == SUPPORTED_CRS and len(SUPPORTED_CRS) == 13
    assert provider["title_field"] == "nom"
    licence = [link for link in resource["links"] if link["rel"] == "license"][0]
    assert licence["href"] == "https://opendatacommons.org/licenses/odbl/1-0/"
    assert config["metadata"]["license"]["url"] == licence["href"]


def test_config_with_nothing_published_is_still_valid(tmp_path):
    settings = Settings(data_dir=tmp_path / "vide")
    config = build_config(settings, get_catalogue(settings.catalogue), GeoPackageStore(settings.data_dir))
    assert config["resources"] == {}
    validate_config(config)


def test_config_with_the_database_down_serves_the_catalogue(tmp_path, caplog):
    """PostgreSQL unreachable at start-up: every catalogue layer, from the catalogue alone,
    marked unconfirmed; a password-free location in ``data``; one warning, no exception."""
    from layers.store.postgis import PostGISStore

    url = "postgresql://geocommune:secret@127.0.0.1:1/geocommune?schema=ailleurs"  # port 1: refused
    settings = Settings(data_dir=tmp_path / "data", store=url)
    catalogue = get_catalogue(settings.catalogue)
    store = PostGISStore(url)
    try:
        with caplog.at_level("WARNING", logger="server.pygeoapi_config"):
            config = build_config(settings, catalogue, store)
    finally:
        store.close()
    validate_config(config)
    assert list(config["resources"]) == [layer.id for layer in catalogue.layers]
    provider = config["resources"]["defibrillateurs"]["providers"][0]
    assert provider["unconfirmed"] is True
    assert provider["data"] == "postgresql://geocommune:***@127.0.0.1:1/geocommune#ailleurs.defibrillateurs"
    assert "secret" not in str(config)
    assert any("stockage injoignable au démarrage" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "cql, expected",
    [
        ("nom = 'a'", Comparison("nom", "=", "a")),
        ("3 < rang", Comparison("rang", ">", 3)),
        ("nom LIKE 'A%'", Comparison("nom", "like", "A%")),
        ("rang NOT IN (1, 2)", Not(Comparison("rang", "in", (1, 2)))),
        ("rang BETWEEN 1 AND 5", Comparison("rang", "between", (1, 5))),
        ("nom IS NOT NULL", Not(Comparison("nom", "isnull"))),
        (
            "actif = true AND (rang > 1 OR NOT nom = 'x')",
            And((Comparison("actif", "=", True), Or((Comparison("rang", ">", 1), Not(Comparison("nom", "=", "x")))))),
        ),
    ],
)
def test_cql2_translation(cql, expected):
    assert to_where(parse(cql)) == expected


@pytest.mark.parametrize(
    "cql",
    ["S_INTERSECTS(rang, POINT(1 2))", "rang + 1 > 2", "CASEI(nom) = 'a'", "rang = nom", "maj T_AFTER TIMESTAMP('2020-01-01T00:00:00Z')"],
)
def test_cql2_unsupported_is_refused(cql):
    with pytest.raises(UnsupportedFilter):
        to_where(parse(cql))


def test_granian_options_are_production_ones():
    from granian import Granian
    from granian.constants import Interfaces

    options = server_options(Settings(host="127.0.0.1", port=5555, workers=3, threads=6))
    assert set(options) <= set(inspect.signature(Granian.__init__).parameters)  # all known to granian
    assert (options["address"], options["port"]) == ("127.0.0.1", 5555)
    assert options["interface"] == Interfaces.WSGI
    assert options["workers"] == 3 and options["blocking_threads"] == 6
    assert options["respawn_failed_workers"] is True  # a dead worker is replaced
    assert options["workers_kill_timeout"] == GRACEFUL_STOP
    assert options["http1_settings"].keep_alive is True
    assert options["http1_settings"].header_read_timeout == KEEP_ALIVE_IDLE * 1000
    assert options["log_access"] is True and server_options(Settings(), access_log=False)["log_access"] is False
    assert server_options(Settings(host="::1", port=80))["address"] == "::1"  # granian adds the brackets
    assert server_options(Settings(host="[::1]", port=80))["address"] == "::1"
    assert bind_address("::1", 80) == "[::1]:80"
    assert Settings().host == "127.0.0.1"  # never every interface unless asked


def test_access_log_setting(monkeypatch):
    monkeypatch.setenv("GEOCOMMUNE_ACCESS_LOG", "0")
    assert Settings().access_log is False
    monkeypatch.setenv("GEOCOMMUNE_ACCESS_LOG", "1")
    assert Settings().access_log is True
    monkeypatch.delenv("GEOCOMMUNE_ACCESS_LOG")
    assert Settings().access_log is True  # logged unless told otherwise
