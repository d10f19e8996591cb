"""How each catalogue layer looks on the residents' map: which properties the live loader
asks for, marker or line style, popup rows, search field, filter choices.

Plain data (JSON-ready), handed to the page's script as it is. A catalogue layer without
an entry here is still shown, with a generic marker or line and a popup of its first
properties. Texts carry both languages ({"fr": …, "en": …}); values found in the data
(French enumerations of the national schemas) are translated for the English page.

Colours: the Okabe–Ito palette, which stays distinct for the common colour-vision
deficiencies; every category also differs by shape (markers) or dash pattern (lines), so
colour is never the only cue.
"""

from __future__ import annotations

from typing import Any

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#6B6B6B",
}


def _t(fr: str, en: str) -> dict[str, str]:
    return {"fr": fr, "en": en}


YES_NO = {"yes": _t("oui", "yes"), "no": _t("non", "no")}

DAYS = {
    "lundi": _t("lundi", "Monday"),
    "mardi": _t("mardi", "Tuesday"),
    "mercredi": _t("mercredi", "Wednesday"),
    "jeudi": _t("jeudi", "Thursday"),
    "vendredi": _t("vendredi", "Friday"),
    "samedi": _t("samedi", "Saturday"),
    "dimanche": _t("dimanche", "Sunday"),
    "7j/7": _t("7 jours sur 7", "7 days a week"),
    "jours fériés": _t("jours fériés", "public holidays"),
    "événements": _t("événements", "events"),
    "non renseigné": _t("non renseigné", "not specified"),
}
HOURS = {
    "24h/24": _t("24 h sur 24", "24 hours a day"),
    "heures ouvrables": _t("heures ouvrables", "business hours"),
    "heures de nuit": _t("heures de nuit", "night hours"),
    "événements": _t("lors d'événements", "during events"),
    "non renseigné": _t("non renseigné", "not specified"),
}
DAE_STATE = {
    "En fonctionnement": _t("En fonctionnement", "Working"),
    "Hors service": _t("Hors service", "Out of order"),
    "En maintenance": _t("En maintenance", "Under maintenance"),
    "Absent momentanément": _t("Absent momentanément", "Temporarily absent"),
    "Supprimé définitivement": _t("Supprimé définitivement", "Permanently removed"),
    "Inconnu": _t("Inconnu", "Unknown"),
}
WORKING_DAE = "etat_fonct = 'En fonctionnement'"

FACILITIES = {
    "PISTE CYCLABLE": _t("Piste cyclable", "Cycle track"),
    "BANDE CYCLABLE": _t("Bande cyclable", "Cycle lane"),
    "DOUBLE SENS CYCLABLE PISTE": _t("Double-sens cyclable (piste)", "Contraflow (track)"),
    "DOUBLE SENS CYCLABLE BANDE": _t("Double-sens cyclable (bande)", "Contraflow (lane)"),
    "DOUBLE SENS CYCLABLE NON MATERIALISE": _t("Double-sens cyclable non matérialisé", "Contraflow (unmarked)"),
    "VOIE VERTE": _t("Voie verte", "Greenway"),
    "VELO RUE": _t("Vélorue", "Bicycle street"),
    "COULOIR BUS+VELO": _t("Couloir bus-vélo", "Bus and bike lane"),
    "RAMPE": _t("Rampe", "Ramp"),
    "GOULOTTE": _t("Goulotte", "Wheeling ramp on stairs"),
    "AMENAGEMENT MIXTE PIETON VELO HORS VOIE VERTE": _t("Aménagement mixte piétons-vélos", "Shared path"),
    "CHAUSSEE A VOIE CENTRALE BANALISEE": _t("Chaussée à voie centrale banalisée", "Advisory cycle lanes (2-minus-1 road)"),
    "ACCOTEMENT REVETU HORS CVCB": _t("Accotement revêtu", "Paved shoulder"),
    "AUCUN": _t("Aucun", "None"),
    "AUTRE": _t("Autre", "Other"),
}
REGIMES = {
    "ZONE 30": _t("Zone 30", "30 km/h zone"),
    "AIRE PIETONNE": _t("Aire piétonne", "Pedestrian area"),
    "ZONE DE RENCONTRE": _t("Zone de rencontre", "Shared-space zone (20 km/h)"),
    "EN AGGLOMERATION": _t("En agglomération", "Built-up area"),
    "HORS AGGLOMERATION": _t("Hors agglomération", "Outside built-up area"),
    "AUTRE": _t("Autre", "Other"),
}
DIRECTIONS = {"UNIDIRECTIONNEL": _t("Sens unique", "One-way"), "BIDIRECTIONNEL": _t("Double sens", "Two-way")}
SURFACES = {"LISSE": _t("Lisse", "Smooth"), "RUGUEUX": _t("Rugueux", "Rough"), "MEUBLE": _t("Meuble", "Loose")}
STATUSES = {"EN SERVICE": _t("En service", "In use"), "EN TRAVAUX": _t("En travaux", "Under construction"),
            "PROVISOIRE": _t("Provisoire", "Temporary")}

# Cycle facilities, most protective first: a road with a track on one side and a lane on
# the other is drawn as a track. "Zone apaisée" comes from the traffic regime when the
# road has no facility of its own.
CYCLE_CATEGORIES: list[dict[str, Any]] = [
    {"key": "voie-verte", "label": _t("Voie verte", "Greenway"), "ame": ["VOIE VERTE"],
     "color": OKABE_ITO["green"], "weight": 6, "dash": None},
    {"key": "piste", "label": _t("Piste cyclable", "Cycle track"), "ame": ["PISTE CYCLABLE", "DOUBLE SENS CYCLABLE PISTE"],
     "color": OKABE_ITO["blue"], "weight": 5, "dash": None},
    {"key": "bande", "label": _t("Bande cyclable", "Cycle lane"), "ame": ["BANDE CYCLABLE", "DOUBLE SENS CYCLABLE BANDE"],
     "color": OKABE_ITO["sky_blue"], "weight": 4, "dash": "10 6"},
    {"key": "bus", "label": _t("Couloir bus-vélo", "Bus and bike lane"), "ame": ["COULOIR BUS+VELO"],
     "color": OKABE_ITO["vermillion"], "weight": 4, "dash": "2 6"},
    {"key": "double-sens", "label": _t("Double-sens cyclable", "Contraflow cycling"),
     "ame": ["DOUBLE SENS CYCLABLE NON MATERIALISE"], "color": OKABE_ITO["purple"], "weight": 4, "dash": "1 7"},
    {"key": "mixte", "label": _t("Voie partagée (piétons, vélorue, CVCB…)", "Shared way (pedestrians, bicycle street…)"),
     "ame": ["AMENAGEMENT MIXTE PIETON VELO HORS VOIE VERTE", "VELO RUE", "CHAUSSEE A VOIE CENTRALE BANALISEE",
             "ACCOTEMENT REVETU HORS CVCB", "RAMPE", "GOULOTTE"],
     "color": OKABE_ITO["orange"], "weight": 4, "dash": "12 4 2 4"},
    {"key": "apaisee", "label": _t("Zone apaisée (zone 30, de rencontre, aire piétonne)",
                                   "Traffic-calmed zone (30 km/h, shared space, pedestrian)"),
     "regime": ["ZONE 30", "ZONE DE RENCONTRE", "AIRE PIETONNE"],
     "color": OKABE_ITO["black"], "weight": 3, "dash": "4 4"},
    {"key": "autre", "label": _t("Autre ou sans aménagement", "Other or no facility"), "ame": [],
     "color": OKABE_ITO["grey"], "weight": 2, "dash": "1 4"},
]

# Accessibility filters of the venues layer: each choice is one CQL2 condition; the
# chosen ones are joined with AND and sent as the ``filter`` parameter of the API.
VENUE_FILTERS: list[dict[str, Any]] = [
    {"key": "plain-pied", "label": _t("Entrée de plain-pied", "Step-free entrance"),
     "fields": ["entree_plain_pied"], "cql": "entree_plain_pied = TRUE"},
    {"key": "stationnement", "label": _t("Stationnement PMR", "Disabled parking"),
     "fields": ["stationnement_pmr", "stationnement_ext_pmr"],
     "cql": "(stationnement_pmr = TRUE OR stationnement_ext_pmr = TRUE)"},
    {"key": "malentendants", "label": _t("Boucle magnétique, équipements pour malentendants",
                                         "Hearing loop, equipment for hard of hearing"),
     "fields": ["accueil_equipements_malentendants_presence"], "cql": "accueil_equipements_malentendants_presence = TRUE"},
    {"key": "audiodescription", "label": _t("Audiodescription", "Audio description"),
     "fields": ["accueil_audiodescription_presence"], "cql": "accueil_audiodescription_presence = TRUE"},
    {"key": "sanitaires", "label": _t("Sanitaires adaptés", "Accessible toilets"),
     "fields": ["sanitaires_adaptes"], "cql": "sanitaires_adaptes = TRUE"},
]


def _row(label: dict[str, str], field: str | list[str], kind: str = "text", **extra: Any) -> dict[str, Any]:
    return {"label": label, "field": field, "type": kind, **extra}


PRESENTATION: dict[str, dict[str, Any]] = {
    "defibrillateurs": {
        "kind": "points",
        "name": _t("Défibrillateurs", "Defibrillators"),
        "icon": "dae",
        "title_field": "nom",
        "fields": ["nom", "etat_fonct"],  # asked with each bbox: the marker's name and state
        "working": {"field": "etat_fonct", "value": "En fonctionnement"},
        "nearest_filter": WORKING_DAE,
        "search_field": "nom",
        "limit": 2000,
        "popup": [
            _row(_t("Adresse", "Address"), ["adr_num", "adr_voie", "com_nom"], "join"),
            _row(_t("Accès", "Access"), "acc", "enum",
                 values={"Intérieur": _t("intérieur", "indoor"), "Extérieur": _t("extérieur", "outdoor")}),
            _row(_t("Accès libre", "Freely accessible"), "acc_lib", "bool"),
            _row(_t("Étage", "Floor"), "acc_etg"),
            _row(_t("Jours de disponibilité", "Available on"), "disp_j", "list", values=DAYS),
            _row(_t("Heures de disponibilité", "Available hours"), "disp_h", "list", values=HOURS),
            _row(_t("État", "State"), "etat_fonct", "enum", values=DAE_STATE),
            _row(_t("Dernière maintenance", "Last check"), "dermnt", "date"),
        ],
    },
    "amenagements-cyclables": {
        "kind": "lines",
        "name": _t("Aménagements cyclables", "Cycle network"),
        "title_field": "nom_loc",
        "fields": ["ame_d", "ame_g", "regime_d", "regime_g"],
        "categories": CYCLE_CATEGORIES,
        "limit": 2000,
        "popup": [
            _row(_t("Côté droit", "Right side"), "ame_d", "enum", values=FACILITIES),
            _row(_t("Côté gauche", "Left side"), "ame_g", "enum", values=FACILITIES),
            _row(_t("Régime", "Traffic regime"), "regime_d", "enum", values=REGIMES),
            _row(_t("Sens", "Direction"), "sens_d", "enum", values=DIRECTIONS),
            _row(_t("Largeur (m)", "Width (m)"), "largeur_d", "number"),
            _row(_t("Revêtement", "Surface"), "revet_d", "enum", values=SURFACES),
            _row(_t("Statut", "Status"), "statut_d", "enum", values=STATUSES),
            _row(_t("Mise à jour", "Updated"), "date_maj", "date"),
        ],
    },
    "lieux-accessibles": {
        "kind": "points",
        "name": _t("Lieux accessibles", "Accessible venues"),
        "icon": "venue",
        "title_field": "name",
        "fields": ["name", "entree_plain_pied", "entree_pmr"],
        "search_field": "name",
        "filters": VENUE_FILTERS,
        "limit": 2000,
        "popup": [
            _row(_t("Activité", "Activity"), "activite"),
            _row(_t("Adresse", "Address"), ["numero", "voie", "commune"], "join"),
            _row(_t("Entrée de plain-pied", "Step-free entrance"), "entree_plain_pied", "bool"),
            _row(_t("Entrée adaptée PMR", "Wheelchair-accessible entrance"), "entree_pmr", "bool"),
            _row(_t("Stationnement PMR", "Disabled parking"), "stationnement_pmr", "bool"),
            _row(_t("Stationnement PMR à proximité", "Disabled parking nearby"), "stationnement_ext_pmr", "bool"),
            _row(_t("Équipements pour malentendants", "Equipment for hard of hearing"),
                 "accueil_equipements_malentendants_presence", "bool"),
            _row(_t("Audiodescription", "Audio description"), "accueil_audiodescription_presence", "bool"),
            _row(_t("Sanitaires adaptés", "Accessible toilets"), "sanitaires_adaptes", "bool"),
            _row(_t("Site internet", "Website"), "site_internet", "url"),
        ],
    },
    "stationnement-velo": {
        "kind": "points",
        "name": _t("Stationnement vélo", "Bicycle parking"),
        "icon": "bike-parking",
        "title_field": "mobilier",
        "fields": ["mobilier", "capacite"],
        "limit": 2000,
        "popup": [
            _row(_t("Mobilier", "Stand type"), "mobilier", "enum", lower=True),
            _row(_t("Places", "Spaces"), "capacite", "number"),
            _row(_t("Accès", "Access"), "acces", "enum", lower=True),
            _row(_t("Gratuit", "Free of charge"), "gratuit", "bool"),
            _row(_t("Couvert", "Covered"), "couverture", "bool"),
            _row(_t("Surveillé", "Supervised"), "surveillance", "bool"),
        ],
    },
}

GENERIC_POINTS: dict[str, Any] = {"kind": "points", "icon": "generic", "fields": [], "limit": 2000, "popup": []}
GENERIC_LINES: dict[str, Any] = {"kind": "lines", "fields": [], "limit": 2000, "popup": [],
                                 "categories": [{"key": "autre", "label": _t("Tracé", "Line"), "ame": [],
                                                 "color": OKABE_ITO["blue"], "weight": 3, "dash": None}]}


def presentation_for(layer_id: str, title: dict[str, str], geometry: str, field_types: dict[str, str]) -> dict[str, Any]:
    """The presentation of one published layer, trimmed to the fields it really has."""
    base = PRESENTATION.get(layer_id)
    if base is None:
        base = dict(GENERIC_LINES if "Line" in geometry else GENERIC_POINTS)
        base["name"] = dict(title)
        base["popup"] = [_row(_t(name, name), name) for name in list(field_types)[1:9]]
    present = set(field_types)
    result = dict(base)
    result["fields"] = [f for f in base.get("fields", []) if f in present]
    result["popup"] = [
        row for row in base.get("popup", [])
        if all(f in present for f in (row["field"] if isinstance(row["field"], list) else [row["field"]]))
    ]
    if "filters" in base:
        result["filters"] = [f for f in base["filters"] if all(name in present for name in f["fields"])]
    for key in ("title_field", "search_field"):
        if result.get(key) and result[key] not in present:
            result.pop(key)
    if result.get("working", {}).get("field") not in present:
        result.pop("working", None)
        result.pop("nearest_filter", None)
    return result
