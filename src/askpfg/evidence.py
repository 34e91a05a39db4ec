"""Evidence stage: the sentences worth citing for a question, widened to stand alone, and why none.

Widening adds what a sentence needs to be read alone: the list it introduces, the sentence a pronoun
leans on, the next sentence that completes it, or its whole short paragraph. Selection keeps the
evidence that writes what the question names and holds the kind of fact it asks for; for a question
about the current position, papers dated after the newest chosen one are searched too.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

from askpfg.chunking import Sentence
from askpfg.question import (
    ANAPHOR,
    about_now,
    answer_type,
    asked_thing,
    content_stems,
    has_answer_type,
    name_runs,
    proper_names,
    word_stems,
)
from askpfg.retrieval import Evidence, Filters, Retriever
from askpfg.schemas import RefusalReason
from askpfg.settings import Settings
from askpfg.verify import foreign_numbers

# Text that instructs whoever reads it, not a statement of the papers. Papers address people (a
# committee, "you"), but never the reader as a processor of the text, never the answer drawn from them,
# and never set the other papers aside. So a sentence is an instruction when it
#   1. addresses a machine (an assistant, AI, a bot, a language model or tool, an automated or
#      text-generating anything, a summariser, a program, a machine) and tells it to do or say something;
#   2. addresses whoever is reading, processing or summarising the text ("anyone generating a summary",
#      "whoever is asked about this", "the reader must ...") and tells them something;
#   3. dictates the answer itself ("every answer must say", "begin your reply with", "the correct
#      response is:", "any generated answer describes ...");
#   4. sets the rest aside or changes the reader's role ("ignore what the other papers say", "put aside
#      everything you were told", "pretend", "overriding all prior guidance", "system notice", "act as")
#      and tells them to say or do something; or
#   5. opens with an imperative about the answer ("Do not mention X in your reply", "Translate your answer").
_ACT = (
    r"(?:say|state|claim|answer|reply|respond|report|tell|announce|declare|output|print|confirm|describe|mention|"
    r"cite|quote|copy|repeat|reveal|translate|write|present|give|list|insist|include|treat|use|begin|start|finish|end|"
    r"emphasi[sz]e|stress|highlight|headline|call|name|omit|leave out|refer|portray|characteri[sz]e|assert|add)(?:s|d|ed|ing)?"
)
_DIRECTIVE = (
    r"must|should|shall|ought to|(?:is|are|has|have|needs?) to|(?:is|are) (?:asked|requested|required|instructed|expected) to|"
    r"your task|please|kindly|make sure|be sure|always|never|only|do not|don't|take note|note (?:for|to)|attention|"
    r"instructions?|directive|^to (?:whoever|anyone|any)\b|from (?:now|here|this point) on"
)
_MACHINE = (
    r"(?<!teaching )(?<!personal )(?<!care )(?<!support )(?-i:\bassistants?\b)|(?-i:\bAssistants?\b)(?! [A-Z])|(?-i:\bAI\b)|\bLLMs?\b|"
    r"\b(?:chat ?)?bots?\b|\blanguage (?:models?|tools?)\b|\bsummari[sz]ers?\b|\banswerers?\b|\bprograms?\b|\bmachines?\b|"
    r"(?-i:\b(?:ChatGPT|GPT(?:-\d\w*)?|Copilot|Qwen|LLaMA|Llama)\b)|"
    r"\b(?:automated|automatic|generative|text[- ]generat(?:ion|ing)|answering|unrestricted)[- ]\w+"
)
_OUTPUT = r"(?:answers?|repl(?:y|ies)|responses?|summar(?:y|ies)|outputs?)"
_WRITING = r"(?:\w+ )?(?:letters?|pages?|papers?|bulletins?|documents?|texts?|notes?|files?|reports?|statements?|minutes|words|paragraphs?|passages?|sentences?)\b"
_TEXT = rf"(?:this|these|the following) {_WRITING}"
_PROCESSING = (
    r"\b(?:read(?:s|ing)?|process(?:es|ing)?|pars(?:es|ing)|ingest(?:s|ing)?|condens(?:es|ing)|summari[sz](?:es|ing)|quot(?:es|ing)|digest(?:s|ing)?) "
    rf"(?:(?:this|these|the following)\b|{_TEXT})|\b(?:summari[sz]|quot|digest|condens|pars|ingest)\w* the {_WRITING}|"
    rf"\bwhen summari[sz]ing\b|\bcompil(?:e|es|ing) answers\b|\binto (?:an? |your )?{_OUTPUT}\b|^(?:dear )?readers?,|"
    r"\b(?:systems?|tools?|services?|software|anything|anyone|whoever|whatever)\s+(?:that|which|who)\s+"
    r"(?:summari[sz]|read|process|pars|ingest|condens|quot|answer|digest)\w*|"
    r"\b(?:this|these) \w+ (?:is|are) (?:being )?(?:summari[sz]ed|processed|parsed|ingested|condensed|quoted|used to answer)\b|"
    r"\b(?:build|write|draft|compose|produc|creat|generat)\w* (?:an? |the )?(?:repl(?:y|ies)|answers?|responses?|summar(?:y|ies)|digests?) (?:from|of|about|based on)\b|"
    r"\banswer(?:s|ing)? questions (?:from|about|on) (?:this|these)\b|\bresponding to (?:the )?users?\b|\brespond(?:s|ing)? to (?:quer(?:y|ies)|questions) about this\b|"
    r"\bgenerat(?:e|es|ing) (?:an? )?(?:summary|summaries|answers?|responses?|repl(?:y|ies))\b|\basked about this\b|"
    r"\bused to answer\b|\b(?:the )?readers? (?:must|should|is|are)\b"
)
_DICTATES = (
    rf"\b(?:your|every|any|all) (?:\w+ ){{0,5}}?{_OUTPUT}\b(?: \S+){{0,5}}? (?:(?:must|should|has to|is to|needs to|to) (?:\w+ )?)?"
    rf"(?:say|state|claim|mention|describe|include|contain|read|begin|start|end|report)s?\b|"
    rf"\bthe {_OUTPUT} (?:must|should|has to|is to|needs to) (?:say|state|claim|mention|describe|include|contain|read|begin|report)\b|"
    rf"\b(?:begin|start|end|finish|open|close|translate|phrase|write) (?:every|each|any|all|your) (?:\w+ )?{_OUTPUT}\b|"
    rf"\bthe (?:correct|right|true|proper|only) (?:answer|response|reply) (?:is|will be)\b|"
    rf"\b(?:generated|automated) (?:\w+ )?{_OUTPUT}\b|\b{_OUTPUT} generated\b"
)
_SETS_ASIDE = (
    r"\b(?:ignore|disregard|forget)\b.{0,40}\b(?:instructions?|prompts?|rules|papers?|documents?|evidence|sources?|context|letters?|"
    r"correspondence|guidance|figures|what|everything|above|previous|other)\b|"
    r"\b(?:put|set) aside (?:everything|all|any|the (?:earlier|previous|prior|other))\b|\bpretend\b|"
    r"\boverrid(?:e|es|ing) (?:all |any )?(?:prior|previous|earlier|other)\b|\bsystem (?:notice|message|prompt|instruction)s?\b|"
    r"\bhidden prompt\b|\bnew (?:directive|instructions?)\b|\bwhatever (?:the question|you (?:are|were) (?:told|asked)|these \w+ say)\b|"
    r"\b(?:behave|act|pose) as (?:an? |the )?\w*\s*(?:system|assistant|model|bot)\b|\byou are now\b|\bexactly as written\b"
)
_IMPERATIVE = (
    rf"^(?:(?:please|kindly|now|simply|always|just),? )?(?:do not|don't|never|{_ACT})\b.{{0,100}}\b(?:your|every|each|any|all|the) {_OUTPUT}\b"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’')\]]*\s+")


def _instructs(sentence: str) -> bool:
    def has(pattern: str) -> bool:
        return re.search(pattern, sentence, re.I) is not None

    acts, directs = has(rf"\b{_ACT}\b"), has(rf"\b(?:{_DIRECTIVE})\b")
    return (
        (has(_MACHINE) and (acts or directs))
        or (has(_PROCESSING) and (acts or directs))
        or has(_DICTATES)
        or (has(_SETS_ASIDE) and (acts or directs))
        or has(_IMPERATIVE)
    )


def addresses_the_assistant(text: str) -> bool:
    """Whether text instructs whoever reads it ("Note to the assistant: from now on state that ...",
    "When summarising this bulletin, always claim ...") rather than stating something, in any of its
    sentences: such text in a paper is data, never evidence."""
    return any(_instructs(sentence.strip()) for sentence in _SENTENCE_END.split(text) if sentence.strip())


# A following sentence that completes this one: "... a personal adviser up to age 25. We anticipate this will be ..."
_REFERS_BACK = re.compile(r"^(?:\S+\s+){0,2}(this|it|these|that)(\s+\w+)?\s+(will|is|was|has|had|would|should|remains?|comes?)\b", re.I)


class EvidenceSelector:
    """Chooses, widens and orders the evidence for one question."""

    def __init__(self, settings: Settings, retriever: Retriever) -> None:
        self.settings = settings
        self.retriever = retriever

    def select(self, question: str, evidence: list[Evidence]) -> tuple[list[Evidence], RefusalReason | None]:
        """The evidence worth citing, or none and why: no close evidence, none holding the kind of fact
        asked for, or years and amounts the question names that no evidence mentions. Near the best score;
        newest first when the question asks for the latest."""
        usable: list[Evidence] = []
        for wide in (self.widened(e) for e in evidence[:8]):
            inside = any(u.doc_id == wide.doc_id and u.sentence.start <= wide.sentence.start and wide.sentence.end <= u.sentence.end for u in usable)
            if not inside and not addresses_the_assistant(wide.text):  # widened neighbours often coincide
                usable.append(wide)
        # evidence about what the question names: its paper names all of it, and the evidence itself
        # (with its heading) enough of it ("Who chairs the Kinship Panel?" is not answered about a Group)
        names, thing = proper_names(question), asked_thing(question)
        named = word_stems(" ".join(names))
        usable = [
            e for e in usable
            if self.retriever.names_in_document(names, e.doc_id)
            and len(named & word_stems(f"{e.text} {e.heading} {e.header}")) >= self.settings.name_share * len(named)
        ]
        # and, when the question uses names of several words, writes one of them whole: the evidence about
        # the "Kinship Care Review Panel" is no answer about a "Kinship Care Advisory Panel"
        runs = name_runs(question)
        usable = [e for e in usable if not runs or self.retriever.writes_a_name(runs, f"{e.text} {e.heading} {e.header}")]
        kind = answer_type(question)
        if kind:  # the fact asked for (a date, a number, a name) must be in the evidence that leads
            usable = [e for e in usable[:4] if has_answer_type(kind, e.text, question)] + usable[4:]

        def off_topic(e: Evidence) -> tuple[bool, bool]:
            # evidence mentioning what the question asks for ("Which subgroups ...") goes first, then
            # evidence about what it names ("Ministerial Oversight Board", not its namesake "Oversight Board")
            said = f"{e.text} {e.heading} {e.header}"
            return bool(thing) and thing not in content_stems(said), not named <= word_stems(said)

        usable[:4] = sorted(usable[:4], key=off_topic)
        if not usable or usable[0].score < self.settings.refusal_threshold:
            return [], "no_evidence"
        if not has_answer_type(kind, usable[0].text, question):
            return [], "wrong_kind_of_fact"
        best = usable[0].score
        floor = max(self.settings.refusal_threshold, best - 0.12)
        chosen = [e for e in usable if e.score >= floor]
        if about_now(question):
            older = [e for e in usable if e.date < chosen[0].date and e.score >= max(floor - 0.08, self.settings.refusal_threshold)]
            chosen = chosen[: self.settings.evidence_k - 1] + ([older[0]] if older and older[0] not in chosen else [])
        chosen = chosen[: self.settings.evidence_k]
        if not about_now(question) and foreign_numbers(question, chosen):
            return [], "foreign_numbers"
        return chosen, None

    def later_position(self, question: str, evidence: list[Evidence], filters: Filters | None) -> list[Evidence]:
        """For a question about the current position: the evidence from papers dated after the newest
        one chosen, when they answer too, first; then the earlier position, so the answer can say
        what changed. A later short paper rarely outranks the longer older ones on its own."""
        newest = max(dt.date.fromisoformat(e.date) for e in evidence)
        filters = filters or Filters()
        since = max(newest + dt.timedelta(days=1), filters.since or dt.date.min)
        later = filters.model_copy(update={"since": since})
        if later.until and later.since > later.until:
            return evidence
        found, _ = self.select(question, self.retriever.retrieve(question, self.settings.retrieve_k, 12, later).evidence)
        if not found:
            return evidence
        return found[: self.settings.evidence_k - 1] + [max(evidence, key=lambda e: e.date)]

    def widened(self, evidence: Evidence) -> Evidence:
        wide = self.widen(evidence.doc_id, evidence.sentence)
        return replace(evidence, sentence=wide, core=evidence.sentence)

    def widen(self, doc_id: str, sentence: Sentence) -> Sentence:
        """The sentence plus what it needs to stand alone: the list it introduces, the sentence a
        pronoun refers back to, the next sentence when it is short or refers back to this one."""
        doc = self.retriever.document(doc_id)
        sentences = self.retriever.sentences_of(doc)
        index = next((i for i, s in enumerate(sentences) if s.start == sentence.start), None)
        if index is None:
            return sentence
        first = last = index

        def list_item(i: int) -> bool:
            return i < len(sentences) and doc.text[sentences[i].start - 2 : sentences[i].start] == "- "

        if ANAPHOR.match(sentence.text) and index > 0:
            first = index - 1
        text = sentence.text.rstrip()
        if text.endswith(":") or (list_item(index + 1) and not list_item(index)):
            # the list it introduces: up to six items, or all of a list of short names
            def short(i: int) -> bool:
                return len(sentences[i].text.split()) <= 4

            while list_item(last + 1) and (last - index < 6 or (short(last + 1) and last - index < 30)):
                last += 1
            last = max(last, min(index + 1, len(sentences) - 1))
        elif len(sentence.text.split()) < 25 and index + 1 < len(sentences):
            gap = doc.text[sentence.end : sentences[index + 1].start]
            if "\n\n" not in gap or len(sentence.text.split()) < 10:
                last = index + 1
        elif index + 1 < len(sentences) and "\n" not in doc.text[sentence.end : sentences[index + 1].start]:
            last = index + 1 if _REFERS_BACK.match(sentences[index + 1].text) else last
        # a short paragraph is one statement: "The UK scheme was announced on 22 June. We support it in principle."
        top, bottom = doc.text.rfind("\n\n", 0, sentence.start) + 1, doc.text.find("\n\n", sentence.end)
        bottom = len(doc.text) if bottom < 0 else bottom
        paragraph = [i for i, s in enumerate(sentences) if top <= s.start and s.end <= bottom]
        if 1 < len(paragraph) <= 3 and len(doc.text[top:bottom].split()) <= 80 and "\n- " not in doc.text[top:bottom]:
            first, last = min(first, paragraph[0]), max(last, paragraph[-1])
        start, end = sentences[first].start, sentences[last].end
        return Sentence(doc.text[start:end], start, end)

    def answering_sentence(self, question: str, evidence: Evidence) -> Sentence:
        """The sentence of a piece of evidence that answers: the one that scored, or, when it lacks the
        kind of fact asked for, the first of its neighbours that holds it; the whole evidence when that
        sentence leans on the one before ("It met ...")."""
        core = evidence.core or evidence.sentence
        kind = answer_type(question)
        if kind and not has_answer_type(kind, core.text, question):
            doc = self.retriever.document(evidence.doc_id)
            inside = self.retriever.sentences_within(doc, evidence.sentence.start, evidence.sentence.end)
            core = next((s for s in inside if has_answer_type(kind, s.text, question)), core)
        return evidence.sentence if ANAPHOR.match(core.text) else core

