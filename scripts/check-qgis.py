#!/usr/bin/python3
"""Check a running geocommune with a real QGIS (Debian's python3-qgis), as a GIS user would.

    scripts/check-qgis.sh            # installs python3-qgis if missing, serves the demo, runs this
    /usr/bin/python3 scripts/check-qgis.py http://127.0.0.1:5000 [ACCESS_LOG]

Loads each collection through QGIS's OGC API – Features provider ("OAPIF"), compares the feature
count with the API's numberMatched, sets a subset string and checks — in the server's access log
when given — that QGIS sent it to the server as a CQL2 ``filter`` instead of filtering locally.
Prints one line per check and exits non-zero on the first failure. Not part of ``make test``
(QGIS is a 1 GB install); see the README.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import Qgis, QgsApplication, QgsFeatureRequest, QgsVectorLayer  # noqa: E402

# QGIS sends subset strings to an OAPIF server as CQL2 only from 3.32 on (qgis/QGIS#52775);
# older versions (Debian 12 ships 3.22) always download the pages and filter locally.
PUSHES_FILTERS = Qgis.QGIS_VERSION_INT >= 33200


def api(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def main() -> int:
    base = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:5000"
    access_log = sys.argv[2] if len(sys.argv) > 2 else None
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    failures = 0
    collections = [c["id"] for c in api(f"{base}/collections?f=json")["collections"]]
    for cid in collections:
        expected = api(f"{base}/collections/{cid}/items?f=json&limit=1")["numberMatched"]
        layer = QgsVectorLayer(f"url='{base}' typename='{cid}'", cid, "OAPIF")
        if not layer.isValid():
            print(f"ÉCHEC {cid} : couche invalide dans QGIS")
            failures += 1
            continue
        got = sum(1 for _ in layer.getFeatures(QgsFeatureRequest()))
        status = "OK" if got == expected else "ÉCHEC"
        failures += status != "OK"
        print(f"{status} {cid} : QGIS lit {got} entités, l'API annonce numberMatched={expected} ; "
              f"SCR {layer.crs().authid()}, champs {len(layer.fields())}")
    # A filter QGIS must push down to the server (conformance lists Part 3 + CQL2).
    layer = QgsVectorLayer(f"url='{base}' typename='defibrillateurs'", "dae", "OAPIF")
    before = os.path.getsize(access_log) if access_log and os.path.exists(access_log) else 0
    layer.setSubsetString("\"etat_fonct\" = 'Hors service'")
    got = sum(1 for _ in layer.getFeatures(QgsFeatureRequest()))
    query = "filter=" + urllib.request.quote("etat_fonct='Hors service'")
    expected = api(f"{base}/collections/defibrillateurs/items?f=json&limit=1&{query}")["numberMatched"]
    status = "OK" if got == expected else "ÉCHEC"
    failures += status != "OK"
    print(f"QGIS {Qgis.QGIS_VERSION}")
    print(f"{status} filtre QGIS « etat_fonct = 'Hors service' » : {got} entités, API {expected}")
    if access_log:
        with open(access_log, encoding="utf-8", errors="replace") as handle:
            handle.seek(before)
            sent = [line for line in handle if "defibrillateurs/items" in line]
        pushed = [line for line in sent if "filter=" in line]
        status = "OK" if pushed else ("ÉCHEC" if PUSHES_FILTERS else "INFO")
        failures += status == "ÉCHEC"
        if not PUSHES_FILTERS:
            print(f"INFO QGIS {Qgis.QGIS_VERSION} filtre localement (filtrage côté serveur à partir de QGIS 3.32)")
        print(f"{status} QGIS a envoyé le filtre au serveur : {len(pushed)}/{len(sent)} requête(s) avec filter=")
        for line in pushed[:2]:
            print("     " + line.strip()[:300])
    app.exitQgis()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
