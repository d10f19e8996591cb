"""The licence and the attribution every downloaded file carries, from the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from layers.catalogue import LayerSpec


@dataclass(frozen=True)
class Credits:
    layer_id: str
    title: str  # French title of the layer
    licence_name: str
    licence_url: str
    licence_spdx: str | None
    attribution: str  # who produced the data: to be credited on reuse
    schema: str  # the national schema the layer follows ("schema-dae 1.0.7")

    @classmethod
    def of(cls, spec: LayerSpec) -> "Credits":
        return cls(
            layer_id=spec.id,
            title=spec.title.get("fr") or spec.id,
            licence_name=spec.licence.name,
            licence_url=spec.licence.url,
            licence_spdx=spec.licence.spdx,
            attribution=spec.producer,
            schema=spec.schema.label,
        )

    @property
    def sentence(self) -> str:
        """One French line for a file's description."""
        return (f"{self.title} — {self.attribution}. Licence : {self.licence_name} ({self.licence_url}). "
                f"Schéma : {self.schema}.")

    def as_dict(self) -> dict[str, str]:
        """Key/value metadata (GeoPackage ``gpkg_metadata``, FlatGeobuf metadata)."""
        items = {
            "TITLE": self.title,
            "LICENSE": self.licence_name,
            "LICENSE_URL": self.licence_url,
            "ATTRIBUTION": self.attribution,
            "SCHEMA": self.schema,
        }
        if self.licence_spdx:
            items["LICENSE_SPDX"] = self.licence_spdx
        return items

    def fingerprint(self) -> str:
        """What of the credits goes into a download's ETag (a new licence: a new file)."""
        return "|".join(f"{k}={v}" for k, v in sorted(self.as_dict().items()))
