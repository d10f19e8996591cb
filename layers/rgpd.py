"""Personal data never leaves: fields named by the layer's RGPD rules are dropped before publication.

Three rules, all from the catalogue: columns always dropped (by name or pattern); columns
blanked on the rows where an operator is a natural person (a sole trader's SIREN/SIRET,
a doctor's name); and phone numbers / e-mail addresses scrubbed out of any free text
that is published.
"""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .catalogue import RGPDRules
from .report import Report
from .values import map_unique

# Phone numbers as written in France and overseas: 0X XX XX XX XX, +33 6…, 0033…, with . - or spaces.
PHONE = re.compile(r"(?<![\w+])(?:(?:\+|00)(?:33|590|594|262|596|269|687|689|508|681)[\s.\-]?(?:\(0\)[\s.\-]?)?[1-9]|0[1-9])(?:[\s.\-]?\d{2}){4}(?!\d)")
EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
SCRUBBED = "[retiré]"
# The same two patterns without look-arounds, so that Arrow's RE2 engine runs them over a
# whole column at C speed; only the cells they flag go through Python's ``re`` above.
_DETECT = (
    r"(?:^|[^\w+])(?:(?:\+|00)(?:33|590|594|262|596|269|687|689|508|681)[\s.\-]?(?:\(0\)[\s.\-]?)?[1-9]|0[1-9])"
    r"(?:[\s.\-]?\d{2}){4}(?:$|\D)|[\w.+\-]+@[\w\-]+\.[\w\-]"
)

# An operator is taken for a natural person when its name carries a civil or professional
# title, the legal form of a sole trader, or is "Prénom NOM" with no organisation word.
_TITLE = r"^(?:m\.|mr\.?|mme|mlle|monsieur|madame|mademoiselle|dr\.?|docteur|pr\.?|professeur|me|ma[iî]tre)\s"
_SOLE_TRADER = r"(?:\bEI\b|\bEIRL\b|entreprise individuelle|auto[- ]?entrepreneur|micro[- ]?entreprise)"
_ORGANISATION = (
    r"\b(?:sarl|sas|sasu|sa|eurl|sci|scm|scp|selarl|selas|snc|gie|gip|sem|spl|mairie|commune|ville|"
    r"communaut[ée]|m[ée]tropole|agglom[ée]ration|d[ée]partement|r[ée]gion|[ée]tat|pr[ée]fecture|sdis|"
    r"association|asso|club|f[ée]d[ée]ration|comit[ée]|syndicat|pharmacie|cabinet|centre|h[ôo]pital|"
    r"clinique|ehpad|groupe|soci[ée]t[ée]|entreprise|[ée]cole|coll[èe]ge|lyc[ée]e|universit[ée]|"
    r"gymnase|stade|piscine|salle|h[ôo]tel|camping|banque|caisse|cr[ée]dit|mutuelle|poste|gare|sncf|"
    r"ratp|office|[ée]glise|paroisse|dioc[èe]se|maison|r[ée]sidence|copropri[ée]t[ée]|syndic|magasin|"
    r"supermarch[ée]|hypermarch[ée]|leclerc|carrefour|auchan|intermarch[ée]|casino|lidl|decathlon|services?)\b"
)
_FIRST_LAST = r"^[A-ZÀ-Ý][a-zà-ÿ'\-]+(?:[\s\-][A-ZÀ-Ý][a-zà-ÿ'\-]+)?\s+[A-ZÀ-Ý][A-ZÀ-Ý'\- ]+$|^[A-ZÀ-Ý][A-ZÀ-Ý'\-]+\s+[A-ZÀ-Ý][a-zà-ÿ'\-]+(?:[\s\-][A-ZÀ-Ý][a-zà-ÿ'\-]+)?$"


_PERSON_TESTS = (
    re.compile(_TITLE, re.IGNORECASE),
    re.compile(_SOLE_TRADER, re.IGNORECASE),
)
_ORGANISATION_RE = re.compile(_ORGANISATION, re.IGNORECASE)
_FIRST_LAST_RE = re.compile(_FIRST_LAST)


def _is_person(name: str) -> bool:
    name = str(name).strip()
    if any(test.search(name) for test in _PERSON_TESTS):
        return True
    return bool(_FIRST_LAST_RE.search(name)) and not _ORGANISATION_RE.search(name)


def looks_like_person(names: pd.Series) -> pd.Series:
    """True where the name designates a natural person (tested once per distinct name)."""
    return map_unique(names, _is_person).fillna(False).astype(bool)


def _scrub(text: str) -> str:
    return EMAIL.sub(SCRUBBED, PHONE.sub(SCRUBBED, text))


def is_free_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series.dtype)


def _matches(text: pd.Series, pattern: str) -> pd.Series:
    """Vectorised regex test in Arrow (RE2), whatever the pandas string storage of ``text``."""
    array = pa.array(text.astype(object).to_numpy(), type=pa.string(), from_pandas=True)
    found = pc.fill_null(pc.match_substring_regex(array, pattern), False)
    return pd.Series(found.to_numpy(zero_copy_only=False), index=text.index, dtype=bool)


def strip_personal_data(frame: pd.DataFrame, rules: RGPDRules, report: Report,
                        free_text_fields: list[str]) -> pd.DataFrame:
    """Apply the layer's RGPD rules; every removal is counted in the report."""
    dropped = [c for c in frame.columns if rules.drops(c)]
    if dropped:
        frame = frame.drop(columns=dropped)
        report.notes.append("Données personnelles retirées (colonnes) : " + ", ".join(dropped))
        report.count("colonnes_rgpd_retirees", len(dropped))

    if rules.drop_if_person_test and rules.drop_if_person_test in frame.columns:
        person = looks_like_person(frame[rules.drop_if_person_test])
        n = int(person.sum())
        if n:
            frame = frame.copy()
            for column in rules.drop_if_person_fields:
                if column in frame.columns:
                    frame[column] = frame[column].astype(object).where(~person, None)
            report.count("lignes_personne_physique_anonymisees", n)
            report.notes.append(
                f"{n} exploitant(s) personne(s) physique(s) : "
                + ", ".join(f for f in rules.drop_if_person_fields if f in frame.columns)
                + " retirés sur ces lignes"
            )

    if rules.scrub_free_text:
        scrubbed_total = 0
        for column in free_text_fields:
            if column not in frame.columns or not is_free_text(frame[column]):
                continue
            text = frame[column].astype("string")
            candidate = _matches(text, _DETECT)
            if not candidate.any():
                continue
            before = text[candidate]
            after = map_unique(before, _scrub)
            changed = (after != before.astype(object)).to_numpy(bool)
            if changed.any():
                frame = frame.copy() if scrubbed_total == 0 else frame
                updated = text.astype(object)
                updated.loc[before.index[changed]] = after[changed].to_numpy()
                frame[column] = updated
                scrubbed_total += int(changed.sum())
        if scrubbed_total:
            report.count("textes_libres_expurges", scrubbed_total)
            report.notes.append(
                f"{scrubbed_total} texte(s) libre(s) contenant un numéro de téléphone ou une adresse électronique : remplacés par « {SCRUBBED} »"
            )
    return frame
