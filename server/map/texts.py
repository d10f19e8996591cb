"""What the residents' map says, in French (default) and English.

The page's script receives only the strings of its language. ``{n}``, ``{name}``… are
filled in by the script.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("fr", "en")

TEXTS: dict[str, dict[str, str]] = {
    "page_title": {"fr": "Carte des habitants", "en": "Residents' map"},
    "map_label": {"fr": "Carte interactive : défibrillateurs, réseau cyclable, lieux accessibles",
                  "en": "Interactive map: defibrillators, cycle network, accessible venues"},
    "other_language": {"fr": "English", "en": "Français"},
    "other_language_label": {"fr": "Read this map in English", "en": "Lire cette carte en français"},
    "zoom_in": {"fr": "Zoom avant", "en": "Zoom in"},
    "zoom_out": {"fr": "Zoom arrière", "en": "Zoom out"},
    "layers": {"fr": "Couches affichées", "en": "Layers shown"},
    "fullscreen": {"fr": "Plein écran", "en": "Full screen"},
    "fullscreen_exit": {"fr": "Quitter le plein écran", "en": "Exit full screen"},
    "locate": {"fr": "Me localiser", "en": "Show my location"},
    "locate_popup": {"fr": "Vous êtes à {distance} m près d'ici", "en": "You are within {distance} m of this point"},
    "locate_outside": {"fr": "Vous semblez être hors de la zone de la carte", "en": "You seem to be outside the map area"},
    "nearest": {"fr": "Défibrillateur le plus proche", "en": "Nearest defibrillator"},
    "nearest_help": {"fr": "Cherche le défibrillateur en fonctionnement le plus proche de votre position",
                     "en": "Finds the nearest working defibrillator to your position"},
    "nearest_locating": {"fr": "Recherche de votre position…", "en": "Finding your position…"},
    "nearest_searching": {"fr": "Recherche du défibrillateur le plus proche…", "en": "Looking for the nearest defibrillator…"},
    "nearest_found": {"fr": "Défibrillateur le plus proche : {name}, à {distance} m à vol d'oiseau",
                      "en": "Nearest defibrillator: {name}, {distance} m as the crow flies"},
    "nearest_from_centre": {"fr": "Position non disponible : recherche depuis le centre de la carte.",
                            "en": "Position unavailable: searching from the centre of the map."},
    "nearest_none": {"fr": "Aucun défibrillateur en fonctionnement n'est publié.",
                     "en": "No working defibrillator is published."},
    "nearest_distance": {"fr": "À {distance} m à vol d'oiseau", "en": "{distance} m away as the crow flies"},
    "your_position": {"fr": "Votre position", "en": "Your position"},
    "map_centre": {"fr": "Centre de la carte", "en": "Centre of the map"},
    "search": {"fr": "Rechercher un lieu par son nom", "en": "Search a place by name"},
    "search_placeholder": {"fr": "Nom d'un lieu…", "en": "Name of a place…"},
    "search_button": {"fr": "Rechercher", "en": "Search"},
    "search_results": {"fr": "{n} résultat(s)", "en": "{n} result(s)"},
    "search_none": {"fr": "Aucun lieu ne porte ce nom.", "en": "No place has this name."},
    "search_short": {"fr": "Tapez au moins 2 lettres.", "en": "Type at least 2 letters."},
    "filters": {"fr": "Filtres d'accessibilité", "en": "Accessibility filters"},
    "filters_legend": {"fr": "Lieux avec :", "en": "Venues with:"},
    "filters_count": {"fr": "{n} lieu(x) correspondant(s) dans la vue", "en": "{n} matching venue(s) in view"},
    "filters_reset": {"fr": "Tout effacer", "en": "Clear all"},
    "legend": {"fr": "Légende", "en": "Legend"},
    "legend_dae_on": {"fr": "Défibrillateur en fonctionnement", "en": "Working defibrillator"},
    "legend_dae_off": {"fr": "Défibrillateur hors service ou état inconnu", "en": "Defibrillator out of order or state unknown"},
    "legend_venue_yes": {"fr": "Lieu à entrée de plain-pied", "en": "Venue with step-free entrance"},
    "legend_venue_no": {"fr": "Lieu à entrée avec marche(s)", "en": "Venue with step(s) at the entrance"},
    "legend_venue_unknown": {"fr": "Lieu : entrée non renseignée", "en": "Venue: entrance not described"},
    "legend_bike_parking": {"fr": "Stationnement vélo", "en": "Bicycle parking"},
    "legend_aggregate": {"fr": "Nombre d'éléments dans la zone (zoomer pour les voir)",
                         "en": "Number of features in the area (zoom in to see them)"},
    "legend_cycle": {"fr": "Aménagements cyclables", "en": "Cycle network"},
    "close": {"fr": "Fermer", "en": "Close"},
    "loading": {"fr": "Chargement…", "en": "Loading…"},
    "popup_link": {"fr": "Fiche complète dans l'API", "en": "Full record in the API"},
    "popup_error": {"fr": "Fiche indisponible pour le moment.", "en": "Record unavailable at the moment."},
    "yes": {"fr": "oui", "en": "yes"},
    "no": {"fr": "non", "en": "no"},
    "unnamed": {"fr": "Sans nom", "en": "No name"},
    "status_features": {"fr": "{layer} : {n} affiché(s)", "en": "{layer}: {n} shown"},
    "status_partial": {"fr": "{layer} : {n} affichés sur {total} — zoomez pour tout voir",
                       "en": "{layer}: {n} shown out of {total} — zoom in to see all"},
    "status_aggregate": {"fr": "{layer} : {total} dans la vue, regroupés par zone — zoomez pour les voir un à un",
                         "en": "{layer}: {total} in view, grouped by area — zoom in to see them one by one"},
    "status_error": {"fr": "{layer} : chargement impossible, nouvel essai au prochain déplacement",
                     "en": "{layer}: could not load, will retry at the next move"},
    "aggregate_title": {"fr": "{n} — zoomer sur cette zone", "en": "{n} — zoom in on this area"},
    "cluster_title": {"fr": "{n} éléments regroupés — zoomer", "en": "{n} grouped features — zoom in"},
    "skip_to_controls": {"fr": "Aller aux commandes de la carte", "en": "Skip to the map controls"},
}


def texts_for(lang: str) -> dict[str, str]:
    return {key: value[lang] for key, value in TEXTS.items()}


def localise(value: Any, lang: str) -> Any:
    """Replace every ``{"fr": …, "en": …}`` in ``value`` by the text of ``lang``."""
    if isinstance(value, dict):
        if set(value) == set(LANGUAGES):
            return value[lang]
        return {key: localise(item, lang) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [localise(item, lang) for item in value]
    return value
