"""The one settings object: every knob, read from `ASKPFG_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]

GeneratorName = Literal["qwen2.5-0.5b", "qwen2.5-1.5b", "smollm2-135m"]


class Settings(BaseSettings):
    """Configuration for every stage; defaults work from a fresh clone."""

    model_config = SettingsConfigDict(env_prefix="ASKPFG_", env_file=".env", extra="ignore")

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    seeds_dir: Path = PROJECT_ROOT.parent / "shared" / "seeds"
    index_dir: Path = PROJECT_ROOT / "index"
    model_cache_dir: Path = PROJECT_ROOT / "index" / "models"
    collection: str = "askpfg_chunks"

    chroma_host: str | None = None
    chroma_port: int = 8001

    chunk_size: int = Field(240, description="tokens of the embedding model's tokenizer")
    chunk_overlap: int = 40

    generator: GeneratorName = "qwen2.5-0.5b"
    llm_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    llm_model: str = "default"
    llm_api_key: str | None = None
    llm_timeout_s: float = 10.0
    llm_threads: int = 2
    llm_max_tokens: int = 100
    use_generator: bool = True

    rank_dense: float = Field(0.4, description="weight of a sentence's embedding similarity to the question")
    rank_lexical: float = Field(0.6, description="weight of its share of the question's words, rarer words counting more")
    rank_typed: float = Field(0.08, description="bonus when it holds the kind of fact asked for (a date for 'when')")
    name_share: float = Field(0.5, description="share of the names a question uses that its evidence (with heading and title) must write")
    retrieve_k: int = 8
    sentence_k: int = Field(
        0, description="single sentences searched on their own (dense + BM25) and added to the candidates; 0 (off) measured "
        "as well or better than 12 on all three evaluation splits, where the chunks already hold the answering sentence",
    )
    evidence_k: int = 4
    refusal_threshold: float = Field(0.36, description="minimum evidence score to answer; chosen on the development split (bench/calibrate.py)")
    overrule_refusal_at: float = Field(
        0.0,
        description="the generator's NOT COVERED refuses only when the best evidence is less close in meaning (cosine) "
        "than this; 0 (the default) never lets it refuse: on papers askpfg was not built from it refused answerable "
        "questions more often than unanswerable ones",
    )

    answer_cache: int = Field(
        256, description="recent answers kept, by standalone question, filters, index version and generator; 0 turns it off"
    )

    max_question_chars: int = 4000
    max_letter_chars: int = 20000
    max_points: int = Field(15, description="most points one drafted reply answers; a letter with more, or more given, is refused")
    max_body_bytes: int = 64_000
    max_upload_bytes: int = Field(5_000_000, description="largest letter file the UI takes (Gradio refuses bigger uploads with 413)")
    api_key: str | None = None
    feedback_path: Path = Field(
        PROJECT_ROOT / "index" / "feedback.jsonl",
        description="where the UI appends each thumbs up or down (question, answer, citations), one JSON object a line",
    )

    signatory_name: str | None = None
    signatory_role: str | None = None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
