"""Shared fixtures: one real index of the real corpus, built once per test session in a temp folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before anything reads settings: tests never touch the user's index/ (the model cache is shared).
os.environ.setdefault("ASKPFG_INDEX_DIR", tempfile.mkdtemp(prefix="askpfg-test-index-"))

import pytest  # noqa: E402

from askpfg.answering import Pipeline, get_pipeline  # noqa: E402
from askpfg.index import IndexStore, build_index  # noqa: E402
from askpfg.settings import Settings, get_settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def store(settings: Settings) -> IndexStore:
    """The real corpus indexed with the real embedding model into a real Chroma store."""
    pipeline = get_pipeline()
    if pipeline.store.is_empty():
        build_index(pipeline.store)
    return pipeline.store


@pytest.fixture(scope="session")
def pipeline(store: IndexStore) -> Pipeline:
    """The shared production pipeline: real retrieval, real generator, real verification."""
    return get_pipeline()
