"""Fixtures: the shipped national schemas, loaded once per session."""

from __future__ import annotations

import pytest

from layers.schema_model import NationalSchema
from layers.schemas import load_schema
from validation_helpers import ACCESLIBRE, CYCLE, DAE, SCDL, STATIONNEMENT


@pytest.fixture(scope="session")
def dae() -> NationalSchema:
    return load_schema(DAE)


@pytest.fixture(scope="session")
def acceslibre() -> NationalSchema:
    return load_schema(ACCESLIBRE)


@pytest.fixture(scope="session")
def stationnement() -> NationalSchema:
    return load_schema(STATIONNEMENT)


@pytest.fixture(scope="session")
def scdl() -> NationalSchema:
    return load_schema(SCDL)


@pytest.fixture(scope="session")
def cycle() -> NationalSchema:
    return load_schema(CYCLE)
