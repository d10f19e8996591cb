"""geocommune production chain: read → detect CRS → validate → normalise → strip RGPD → publish.

Nothing in this package imports ``server``.
"""
