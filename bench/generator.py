"""Generator speed: prompt-eval and generation tokens/s of the packaged GGUF, loaded as askpfg loads it.

The prompt is fixed and shaped like a real one (the answering system prompt and worked example, four
passages of evidence, ~400 tokens, and a question); decoding is greedy, so every run writes the same
text. The first call writes the answer as askpfg would (it stops at end-of-turn, usually in ~10
tokens); the timed calls forbid end-of-turn, so each generates --max-tokens tokens. The figures are llama.cpp's own counters (llama_perf_context) for the last call, best of
--runs, with the machine's load beside them: on a shared 2-core machine, repeat when the load is high.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/generator.py [--runs 3] [--threads N] [--json FILE]

--json writes the prompt, the settings and the results, so another build of llama.cpp can be
measured on exactly the same input and its greedy output compared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

EVIDENCE = [
    ("the letter of 22 July 2022",
     "An Oversight Board is in place, chaired by an independent person, Anthony Douglas, to deliver a new vision and "
     "ambition for children's services, based around consistent practice, less risk adverse behaviours and national "
     "restorative approaches to be adopted across Wales. The Chair has met representatives from every local authority "
     "children's services department in Wales to discuss these issues."),
    ("the letter of 22 July 2022",
     "We have established a multiagency Programme Board, chaired by the Chief Social Care Officer for Wales, Albert "
     "Heaney. The Board is focused on delivery within a strong governance framework and thorough impact assessment. "
     "We have thorough representation from the sector which includes public and third sector providers, service "
     "commissioners, Children's Commissioner for Wales, Care Inspectorate Wales, trade unions and Voices from Care."),
    ("the letter of 22 July 2022",
     "Funding arrangements to support the delivery of parental advocacy services in each of the seven regions in Wales "
     "have been agreed from April 2022. The service will support parents whose children are on the edge of care, "
     "helping to avoid statutory social services involvement, escalation of needs and reducing the risk of children "
     "entering the care system. We have also now developed a draft National Framework for Parent Advocacy which will "
     "describe the core service criteria that all regions must have in place."),
    ("the letter of 22 July 2022",
     "We have begun putting plans in place to help the transition to a not-for-profit model of care for foster and "
     "residential care services in Wales during this Senedd term. A key principle is that public money invested in "
     "accommodation for care experienced children is not taken out as profit, but instead reinvested into the service "
     "to deliver better outcomes for children, service improvement and further professional development. This is not "
     "about like for like replacement of one provider by another."),
]
QUESTION = "Who chairs the Programme Board on eliminating profit from children's care, and who sits on it?"


def messages() -> list[dict[str, str]]:
    """The chat askpfg would send for QUESTION over EVIDENCE (same system prompt and worked example)."""
    from askpfg.answering import EXAMPLE_ASSISTANT, EXAMPLE_USER, SYSTEM_PROMPT

    numbered = "\n".join(f"Evidence {i} ({where}): {text}" for i, (where, text) in enumerate(EVIDENCE, start=1))
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": EXAMPLE_USER},
        {"role": "assistant", "content": EXAMPLE_ASSISTANT},
        {"role": "user", "content": f"{numbered}\n\nQuestion: {QUESTION}"},
    ]


def machine() -> dict[str, object]:
    flags: set[str] = set()
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
            elif line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    wanted = ["avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile"]
    return {
        "platform": platform.platform(),
        "cpu": model,
        "cores": os.cpu_count(),
        "flags": " ".join(f for f in wanted if f in flags) or "none of " + " ".join(wanted),
    }


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def end_tokens(llm) -> dict[int, float]:
    """A logit bias forbidding every end-of-turn token, so a run generates exactly max_tokens."""
    ids = {llm.token_eos()} | {t for s in (b"<|im_end|>", b"<|endoftext|>") for t in llm.tokenize(s, add_bos=False, special=True)}
    return {t: -1e9 for t in ids}


def run_once(llm, chat: list[dict[str, str]], max_tokens: int, bias: dict[int, float] | None = None) -> dict[str, object]:
    """One greedy completion from an empty KV cache, with llama.cpp's counters for it."""
    import llama_cpp

    llm.reset()  # no prefix reuse from the previous run: the whole prompt is evaluated each time
    llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
    started = time.perf_counter()
    out = llm.create_chat_completion(messages=chat, max_tokens=max_tokens, temperature=0.0, logit_bias=bias)
    wall = time.perf_counter() - started
    perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
    return {
        "prompt_tokens": out["usage"]["prompt_tokens"],
        "completion_tokens": out["usage"]["completion_tokens"],
        "prompt_tps": perf.n_p_eval / (perf.t_p_eval_ms / 1000) if perf.t_p_eval_ms else 0.0,
        "gen_tps": perf.n_eval / (perf.t_eval_ms / 1000) if perf.t_eval_ms else 0.0,
        "wall_s": wall,
        "load": load(),
        "text": out["choices"][0]["message"]["content"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up (default 3)")
    parser.add_argument("--max-tokens", type=int, default=100)
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: ASKPFG_LLM_THREADS, as askpfg)")
    parser.add_argument("--json", type=Path, help="also write prompt, settings and results here")
    args = parser.parse_args()

    import llama_cpp

    from askpfg.models import get_generator
    from askpfg.settings import Settings

    settings = Settings(**({"llm_threads": args.threads} if args.threads else {}))
    started = time.perf_counter()
    generator = get_generator(settings)
    load_s = time.perf_counter() - started
    if generator is None or not hasattr(generator, "_llm"):
        raise SystemExit("bench/generator.py measures the local packaged generator: unset ASKPFG_LLM_URL and ASKPFG_USE_GENERATOR=0")
    llm, chat = generator._llm, messages()

    info = machine()
    print(f"machine: {info['platform']}, {info['cpu']}, {info['cores']} cores; flags: {info['flags']}")
    print(f"model: {generator.name}, llama-cpp-python {llama_cpp.__version__}, threads {settings.llm_threads}, "
          f"loaded in {load_s:.1f} s (load {load()})")
    answer = run_once(llm, chat, args.max_tokens)  # also the warm-up: pages the weights in
    print(f"answer: {answer['text']!r} ({answer['completion_tokens']} tokens)")
    runs = [run_once(llm, chat, args.max_tokens, end_tokens(llm)) for _ in range(args.runs)]
    for r in runs:
        print(f"  prompt {r['prompt_tokens']} tok at {r['prompt_tps']:6.1f} tok/s, generation {r['completion_tokens']} tok "
              f"at {r['gen_tps']:5.1f} tok/s, {r['wall_s']:.2f} s (load {r['load']})")
    best_p, best_g = max(r["prompt_tps"] for r in runs), max(r["gen_tps"] for r in runs)
    print(f"best: prompt {best_p:.1f} tok/s, generation {best_g:.1f} tok/s")
    print(f"same output every run: {len({r['text'] for r in runs}) == 1}")
    print(f"{args.max_tokens}-token output: {runs[0]['text']!r}")
    if args.json:
        record = {"machine": info, "threads": settings.llm_threads, "max_tokens": args.max_tokens, "messages": chat,
                  "llama_cpp_python": llama_cpp.__version__, "model_path": str(llm.model_path), "answer": answer, "runs": runs}
        args.json.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
