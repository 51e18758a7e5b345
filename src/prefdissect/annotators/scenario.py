"""Offline scenario classification: each query into one of the paper's 11 scenario groups.

The paper fits one profile per scenario group. Data that carries no scenario
(AlpacaEval, HH-RLHF, PandaLM...) gets one here, without a server, from rules
written for this project: weighted regular expressions over the request's
opening (its first 300 characters, where the task is usually stated) and a few
over the whole text (code, multiple-choice options). Each matching rule adds its
weight to its group (half as much again when it matches in the first 40
characters); the highest total wins. With no match, a request that starts like
a writing order is Functional Writing, a question is Knowledge-aware, anything
else Others. The rules are deliberately simple, English only, and weaker than
the LLM annotator's query step, which wins wherever it has run.

How good is it? ``benchmarks/scenario_accuracy.py`` measures it on Auto-J's
labelled queries (research-use data in ``../shared/data``, never shipped; the
rules were written while reading one half of the classifier's training queries
and are measured on the other half and on the pairwise test set's queries).

The paper's groups follow Auto-J's scenario taxonomy (58 fine scenarios, plus
``default`` for uncertain ones). Auto-J's own repository merges them into 8
groups; the paper uses 11 and publishes only their names. :data:`FINE_TO_GROUP`
is this project's mapping, Auto-J's groups where they match a paper group (Code,
Creative Writing, Exam Questions, Functional Writing), its Summarization and
Rewriting groups folded into NLP Tasks, and its General Communication group split
four ways:

==================  ==========================================================
group               Auto-J fine scenarios
==================  ==========================================================
Advice              seeking_advice, recommendation
Code                code_generation, code_correction_rewriting,
                    code_simplification, code_to_code_translation,
                    explaining_code
Communication       chitchat, roleplay, value_judgement
Creative Writing    creative_writing, writing_song_lyrics,
                    writing_social_media_post, writing_blog_post,
                    writing_personal_essay, writing_advertisement,
                    writing_marketing_materials, writing_presentation_script,
                    counterfactual
Daily Tasks         asking_how_to_question, planning, brainstorming
Exam Questions      math_reasoning, solving_exam_question_with_math,
                    solving_exam_question_without_math
Functional Writing  functional_writing, writing_email, writing_job_application,
                    writing_legal_document, writing_news_article,
                    writing_biography, writing_product_description,
                    writing_technical_document, writing_scientific_paper,
                    writing_cooking_recipe, peer_review
Knowledge-aware     open_question, explaining_general, analyzing_general,
                    verifying_fact
NLP Tasks           text_summarization, post_summarization, note_summarization,
                    text_simplification, language_polishing,
                    instructional_rewriting, text_correction, paraphrasing,
                    text_to_text_translation, ranking, data_analysis,
                    classification_identification, title_generation,
                    question_generation, reading_comprehension,
                    keywords_extraction, information_extraction, topic_modeling
Others              others, default
Unsafe Queries      rejecting
==================  ==========================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..annotations import ANNOTATION_COLUMNS, OK, Progress
from ..measurements import TextMeasures
from ..properties import PropertySchema
from ..reference import SCENARIOS
from ..registry import register

VERSION = "scenario-rules-1"
SOURCE = f"offline rule classifier ({VERSION})"
"""How scenarios from this classifier are labelled in query_info and study.json."""

FINE_TO_GROUP = {fine: group for group, fines in {
    "Advice": ("seeking_advice", "recommendation"),
    "Code": ("code_generation", "code_correction_rewriting", "code_simplification",
             "code_to_code_translation", "explaining_code"),
    "Communication": ("chitchat", "roleplay", "value_judgement"),
    "Creative Writing": ("creative_writing", "writing_song_lyrics", "writing_social_media_post",
                         "writing_blog_post", "writing_personal_essay", "writing_advertisement",
                         "writing_marketing_materials", "writing_presentation_script",
                         "counterfactual"),
    "Daily Tasks": ("asking_how_to_question", "planning", "brainstorming"),
    "Exam Questions": ("math_reasoning", "solving_exam_question_with_math",
                       "solving_exam_question_without_math"),
    "Functional Writing": ("functional_writing", "writing_email", "writing_job_application",
                           "writing_legal_document", "writing_news_article",
                           "writing_biography", "writing_product_description",
                           "writing_technical_document", "writing_scientific_paper",
                           "writing_cooking_recipe", "peer_review"),
    "Knowledge-aware": ("open_question", "explaining_general", "analyzing_general",
                        "verifying_fact"),
    "NLP Tasks": ("text_summarization", "post_summarization", "note_summarization",
                  "text_simplification", "language_polishing", "instructional_rewriting",
                  "text_correction", "paraphrasing", "text_to_text_translation", "ranking",
                  "data_analysis", "classification_identification", "title_generation",
                  "question_generation", "reading_comprehension", "keywords_extraction",
                  "information_extraction", "topic_modeling"),
    "Others": ("others", "default"),
    "Unsafe Queries": ("rejecting",),
}.items() for fine in fines}
"""Auto-J's fine scenarios (and ``default``) -> the paper's 11 groups (table above)."""

_ORDER = (r"(?:write|compose|draft|create|craft|generate|make|produce|prepare|give me|provide|"
          r"develop|help me (?:write|draft|create)|can you (?:write|create|make|draft|generate)|"
          r"could you (?:write|create|draft)|i need|i want|please write)")
_LANGUAGES = r"english|chinese|french|german|spanish|japanese|korean|russian|italian|" \
             r"portuguese|hindi|arabic"

# (group, weight, where, pattern): "head" is the opening 300 characters, "all" the text.
_NOT_A_PROCESS = (r"(?!\s+-)(?!\s+(?:(?:a|an|the|all|my|this|that|every|running|zombie|"
                  r"background|hung|stuck|frozen|old|other)\s+)*(?:\w+\s+)?(?:process(?:es)?|"
                  r"task|job|thread|session|app|application|program|command|container|pod|"
                  r"server|signal|pid|port|query|connection|loop|daemon|service)\b)")
"""After 'kill': not a process, job or the like (``kill -9``, "kill a Python process")."""
RULES = (
    # Code: code in the text, a language or tool named, a programming task
    ("Code", 5, "all", r"```|\bdef \w+\(|\bfunction\s*\w*\s*\(|#include|\bpublic (?:static |"
     r"void |class )|console\.log|\bimport \w+|=>|\w+\(\)\s*[{;]|</?\w+>|\bselect \w+.* from "),
    ("Code", 2, "head", r"\b(?:python|javascript|typescript|java|c\+\+|c#|golang|rust|kotlin|"
     r"php|ruby|swift|sql|bash|powershell|html|css|react|vue|angular|node\.?js|django|flask|"
     r"numpy|pandas|pytorch|tensorflow|regex|api|json|yaml|docker|kubernetes|git|excel "
     r"formula|vba|matlab|arduino|unity|scala|perl|haskell|lua|dart|flutter|spring ?boot|"
     r"jquery|latex|tkinter|(?:python|bash|shell|vb|powershell|js|google apps|batch) script)"
     r"\b"),
    ("Code", 3, "head", r"\b(?:code|function|program|class|method|bug|error|compile|refactor|"
     r"debug|snippet|algorithm|implement(?:ation)?|endpoint|query)\b"),
    ("Code", 2, "head", r"\b(?:what does this code|explain (?:this|the following) code|fix "
     r"(?:this|the|my) code|convert this (?:code|python|java)|rewrite (?:this|the) code)\b"),
    # NLP tasks: translation, summaries, rewriting, extraction, titles, questions, ranking
    ("NLP Tasks", 5, "head", rf"翻译|翻譯|\btranslat(?:e|ion)\b|\bin(?:to)? (?:{_LANGUAGES})\b"),
    ("NLP Tasks", 5, "head", r"\bsummar(?:y|ize|ise|izing|ising)\b|\btl;?dr\b|\bcondense\b"),
    ("NLP Tasks", 5, "head", r"\b(?:rephrase|paraphrase|reword|rewrite|re-write|polish|"
     r"proofread|proof read|grammar|grammatical|spelling|simplify|make (?:it|this) (?:more|"
     r"less|sound)|improve (?:the|this|my) (?:writing|text|sentence|paragraph)|correct (?:the|"
     r"this|my)|fix (?:the|this|my) (?:grammar|text|sentence)|shorten|better english|write "
     r"(?:it )?nicer)\b"),
    ("NLP Tasks", 5, "head", r"\b(?:extract|keywords?|key words|classify|categori[sz]e|"
     r"classification|sentiment|title for|titles for|headline|rank (?:the|these)|sort (?:the|"
     r"these)|arrange (?:the|these)|topics? (?:covered|discussed)|main points|main ideas|key "
     r"(?:points|subjects|topics|themes)|named entit|identify (?:the|all) )\b"),
    ("NLP Tasks", 6, "head", r"\b(?:generate|write|create|give me|come up with|suggest|craft) "
     r"(?:[\w-]+ ){0,6}(?:questions|quiz|titles?|names|headlines?)\b|\btitles?\b(?! ?:)|"
     r"\bnotes (?:on|about|for)\b|\b(?:write|construct|make|create) (?:\w+ ){0,3}notes\b"),
    ("NLP Tasks", 5, "head", r"\b(?:make (?:my|the|this|it) (?:[\w-]+ ){0,3}(?:more|less|sound)"
     r"|turn (?:the|this|my) (?:[\w-]+ ){0,3}into|convert this (?:story|text|paragraph|article|"
     r"email|documentation)|transform this|streamline|elaborate on this|improve (?:it|this|the "
     r"following)|fix up|reorganize|make the following|take this (?:story|text|paragraph)|"
     r"rank\w*|top (?:\d+|ten|five|few)|read (?:this|the) (?:\w+ )?(?:and|story|text|passage|"
     r"article)|from the passage|answer (?:the|these) (?:following )?questions?|tone of voice|"
     r"written by ai|generated by ai|predict the|utterance|data (?:analysis|below|above)|"
     r"analy[sz]e (?:the|this|my) data|(?:stats|statistics) (?:below|above))\b"),
    ("NLP Tasks", 3, "head", r"\b(?:based on|from|in) the (?:following|given|above|below|"
     r"provided|attached) (?:text|passage|paragraph|article|data|document|story|sentence|"
     r"content)\b|\bthe following (?:text|passage|paragraph|sentence)\b"),
    # Exam questions: answer options, fill-in blanks, calculations
    ("Exam Questions", 9, "all", r"(?:^|\s)\(?[a-d][).]\s+\S.*\s\(?[b-e][).]\s+\S|\btrue or "
     r"false\b|\bfill in the blank\b|___|\bchoose (?:the )?(?:correct|best|two|three)\b(?! \w+ "
     r"keywords)|\bwhich of the following\b"),
    ("Exam Questions", 3, "head", r"\bmultiple[- ]choice\b"),
    ("Exam Questions", 4, "head", r"\b(?:solve|calculate|compute|how (?:many|much|long|far)\b"
     r"[^?]*\d|what is the (?:value|probability|sum|product|area|volume|derivative|integral|"
     r"answer)|find (?:the )?(?:value|x|area|probability|sum|number)|prove|equation|probability|"
     r"derivative|integral)\b"),
    ("Exam Questions", 3, "head", r"\b(?:question \d|exam|quiz question|homework|textbook "
     r"problem|decompose|prime numbers?|express \w+ (?:in terms|only)|matrix|consider (?:a|the "
     r"following|the cascade)|determine the accuracy|highest number|lowest number|digits?)\b"),
    # Functional writing: documents with a practical purpose
    ("Functional Writing", 5, "head", _ORDER + r" (?:\w+ ){0,5}(?:e-?mail|letter|cover letter|"
     r"resume|cv|memo|report|proposal|contract|agreement|policy|terms|invoice|recipe|biography|"
     r"bio|news article|press release|product description|job (?:application|description|"
     r"post)|minutes|agenda|manual|guide|documentation|technical document|white ?paper|"
     r"scientific paper|research paper|paper|review|survey|questionnaire|notice|announcement|"
     r"statement of work|faq|sop|lesson plan|syllabus|case study|description|charter|outline|"
     r"specification|specs|booklet|toolkit|clause|article|page|profile)\b"),
    ("Functional Writing", 4, "head", r"\b(?:cover letter|recipe|biography|contract|contractual|"
     r"lease|legal|clause|press release|product description|product page|description for|job "
     r"application|peer review|review (?:this|the|my) (?:\w+ )?(?:paper|manuscript)|scientific "
     r"paper|research paper|e-?mail|newsletter|news (?:article|story)|report|bio)\b"),
    # Creative writing: fiction, verse, posts, essays, speeches, advertising
    ("Creative Writing", 5, "head", _ORDER + r" (?:\w+ ){0,5}(?:poem|story|stories|song|lyrics|"
     r"rap|haiku|limerick|sonnet|novel|screenplay|script|scene|dialogue|joke|fairy ?tale|fable|"
     r"fiction|narrative|blog(?: post)?|essay|speech|toast|eulogy|tweets?|instagram|facebook|"
     r"linkedin|social media|caption|slogan|tagline|ad|advert\w*|commercial|marketing|sales "
     r"pitch|pitch|presentation|monologue|rhyme|ballad|verse|lullaby|banners?|copy|copywriting|"
     r"post|plot|synopsis|character)\b"),
    ("Creative Writing", 4, "head", r"\b(?:poem|poetry|story|stories|song|lyrics|rap|haiku|"
     r"limerick|sonnet|novel|screenplay|fairy ?tale|fable|fiction|short story|blog post|essay|"
     r"speech|instagram|tweet|linkedin post|social media post|advertisement|advertising|"
     r"promotional|slogan|marketing|copywriter|in the style of|lullaby|twitter|blog|article "
     r"titled|fictional|rap battle)\b"),
    ("Creative Writing", 4, "head", r"\b(?:imagine (?:a|that|if) world|in a world where|what if|"
     r"alternate (?:universe|history|histories|reality)|if [\w ]+ had(?:n't| not)?|the year is "
     r"\d{3,4}|a world where|get along|tell (?:me )?(?:a|the) (?:\w+ )?(?:story|tale|joke)|sea "
     r"shanty|write about|listing|ad copy|video script|presentation script|script for|plot of)"
     r"\b"),
    # Communication: chat, role play, opinions and value judgements
    ("Communication", 2, "head", r"\b(?:act as|pretend (?:to be|you are)|you are now|assume the "
     r"(?:role|identity)|let's play|play a game)\b"),
    ("Communication", 4, "head", r"\b(?:roleplay|role-play|role play|pretend to be|stay in "
     r"character|you find yourself|embody|in character)\b"),
    ("Communication", 2, "head", r"^(?:hi|hello|hey|good (?:morning|evening|afternoon)|how are "
     r"you|what's up|thanks|thank you)\b|\bdo you (?:think|agree|like|believe|feel)\b|\bwhat do "
     r"you think\b|\byour (?:opinion|view|thoughts)\b|\bare you\b|\bwho are you\b"),
    ("Communication", 5, "head", r"\b(?:is it (?:ethical|moral|right|wrong|fair)|ethical(?:ly)?|"
     r"moral(?:ly)?|should (?:we|society|the government)|argue|argument|debate|pros and cons|"
     r"evaluate the (?:statement|claim|argument)|critically (?:analyze|assess|examine)|opinion|"
     r"value judge?ment|(?:do|don't) you agree|meaning of life|life all about|or \w+ better|"
     r"better than)\b"),
    # Advice: recommendations, what to do, personal situations
    ("Advice", 5, "head", r"\b(?:recommend|recommendation|suggest(?:ion)?s?|advice|advise|tips|"
     r"should i|what should|what would you do|help me (?:decide|choose|figure)|any ideas for|"
     r"best way to|best \w+ for|which (?:\w+ )?should)\b"),
    ("Advice", 4, "head", r"\b(?:what to do|what (?:can|should) i do|what are (?:some|the) (?:of "
     r"the )?best|best (?:\w+ ){0,2}(?:for|to|in)|is there a way|where (?:should|can) i|guide "
     r"me|your recommendations?|confused about|(?:my|our) (?:career|job|business|startup|"
     r"campaign|future))\b"),
    ("Advice", 3, "all", r"^(?:i|we|my|our) (?:am|'m|have|want|own|need|run|work|are|'re)\b"
     r"[^?]{0,400}\b(?:how (?:can|should|do) (?:i|we)|what (?:can|should) (?:i|we)|any "
     r"(?:advice|suggestions|tips))"),
    ("Advice", 2, "head", r"\b(?:i (?:am|'m) (?:struggling|having trouble|thinking about|"
     r"considering|trying to decide)|my (?:boss|wife|husband|girlfriend|boyfriend|friend|"
     r"parents|son|daughter|child|kid))\b"),
    # Daily tasks: how-to questions, plans and routines, brainstorming
    ("Daily Tasks", 5, "head", r"^(?:how (?:to|do i|can i|should i|would i|do you|can you)|how "
     r"do we|steps to)\b|\bhow (?:to|do i|can i) \w+"),
    ("Daily Tasks", 5, "head", r"\b(?:plan|planning|itinerary|schedule|routine|meal plan|workout|"
     r"budget|checklist|to-?do list|timetable|agenda for)\b"),
    ("Daily Tasks", 5, "head", r"\b(?:brainstorm|ideas? (?:for|to|on|about)|list (?:of )?(?:\w+ "
     r")?ideas|come up with (?:\w+ )?(?:ideas|ways|names)|ways to|strategies (?:for|to)|creative "
     r"ways|name ideas|names for|naming options|techniques for|approaches (?:to|for)|concepts "
     r"for|identify different|list of|challenges to|envision|ideas|innovative)\b"),
    # Knowledge-aware: factual questions, explanations, analyses, fact checks
    ("Knowledge-aware", 4, "head", r"^(?:what|who|when|where|why|which|is|are|was|were|does|do|"
     r"did|can|could|how (?:does|do|did|is|are|many|much|long|far|old))\b"),
    ("Knowledge-aware", 4, "head", r"^(?:can you |could you |please )?(?:explain|describe|"
     r"define|tell me about|what is|what are|what's|who is|who was|is it true)\b|\b(?:difference "
     r"between|meaning of|definition of|true that|fact[- ]check|determine whether|true "
     r"statements?|is it (?:ok|okay|safe|true|possible)|is (?:this|that|it) (?:true|correct|"
     r"accurate))\b"),
    ("Knowledge-aware", 2, "head", r"\b(?:explain|describe|analy[sz]e|analysis|compare|"
     r"comparison|examine|evaluate|assess)\b"),
    # Unsafe queries: harm, crime, hate; links the model cannot open. Not: killing a
    # process or a job (computing), or asking whether something is illegal (the law)
    ("Unsafe Queries", 6, "head", r"\b(?:kill" + _NOT_A_PROCESS + r"|murder|suicide|bomb|"
     r"explosive|weapon|poison|hack(?:ing)? into|steal|shoplift|hotwire|meth|cocaine|heroin|"
     r"illegal(?!\s*(?:\?|to\b|in\b|for\b|under\b|if\b|or\b))|launder|porn|nude|"
     r"sex with|racist|n-word|hate (?:speech|group)|terroris\w+|kidnap|torture|abuse a|cheat on|"
     r"get away with|without (?:them|anyone) knowing|bypass (?:the )?(?:law|security|paywall))"
     r"\b"),
    ("Unsafe Queries", 2, "head", r"https?://|www\.\w"),
    ("Unsafe Queries", 2, "head", r"\b(?:why (?:are|do) (?:women|men|females|males|blacks|whites|"
     r"jews|muslims|asians|gays)|are (?:women|men) (?:worse|better|inferior))\b"),
)
_COMPILED = tuple((group, weight, where, re.compile(pattern, re.I))
                  for group, weight, where, pattern in RULES)
_WRITING_ORDER = re.compile(r"^(?:please )?(?:write|compose|draft|create|craft|generate|make|"
                            r"produce|prepare|develop|design)\b", re.I)
HEAD, EARLY, TEXT = 300, 40, 4000


def scores(text: str) -> dict[str, float]:
    """Return each group's rule score for one request."""
    head = " ".join(str(text).split())[:HEAD]
    body = str(text)[:TEXT]
    out = dict.fromkeys(SCENARIOS, 0.0)
    for group, weight, where, pattern in _COMPILED:
        found = pattern.search(head if where == "head" else body)
        if found:
            out[group] += weight * (1.5 if found.start() < EARLY else 1.0)
    return out


def classify(text: str) -> str:
    """Return the scenario group of one request (one of the paper's 11)."""
    found = scores(text)
    best = max(found, key=found.get)
    if found[best] > 0:
        return best
    head = " ".join(str(text).split())[:HEAD]
    if _WRITING_ORDER.match(head):
        return "Functional Writing"
    return "Knowledge-aware" if "?" in head else "Others"


def scenario_code(text: str) -> tuple[int]:
    """Return the position in :data:`~prefdissect.reference.SCENARIOS` of a request's group."""
    return (SCENARIOS.index(classify(text)),)


def classify_batches(batches: Iterable[pd.DataFrame], workers: int | None = None) -> pd.Series:
    """Classify the queries of pair batches (``id``, ``query``); each distinct query once.

    Returns the scenario group per pair id. Distinct queries are classified on
    every core once there are many (see :class:`~prefdissect.measurements.TextMeasures`).
    """
    measures = TextMeasures(scenario_code, 1, "int8", workers=workers)
    ids, codes = [], []
    work = ((b["id"].tolist(), b["query"].fillna("").astype(str).tolist()) for b in batches)
    for batch_ids, values in measures.measure_batches(work):
        ids.extend(batch_ids)
        codes.append(values[:, 0])
    names = np.asarray(SCENARIOS, dtype=object)
    found = names[np.concatenate(codes)] if codes else np.array([], dtype=object)
    return pd.Series(found, index=pd.Index(ids, dtype=object), dtype=object)


def offline_scenarios(pairs: pd.DataFrame, query_info: pd.DataFrame | None,
                      classified: pd.Series | None = None) -> pd.DataFrame:
    """Fill in scenarios for pairs that have none, keeping every scenario already known.

    Returns the query-information table with a ``scenario`` for every pair:
    existing rows keep theirs (the LLM annotator's, labelled by ``scenario_source``),
    rows without one and pairs without a row get the classifier's, with
    ``scenario_source`` = :data:`SOURCE`. Query traits stay unknown (missing).
    ``classified`` (pair id -> group, from :func:`classify_batches`) saves
    classifying ``pairs["query"]`` again; then ``pairs`` needs only ``id``.
    """
    info = query_info.copy() if query_info is not None else pd.DataFrame(
        columns=["pair_id", "scenario", "status", "model"])
    if "scenario_source" not in info:
        info["scenario_source"] = None
    info = info.astype({"scenario_source": object, "scenario": object})
    unlabelled = info["scenario"].notna() & info["scenario_source"].isna()
    models = info["model"] if "model" in info else pd.Series(None, index=info.index)
    info.loc[unlabelled, "scenario_source"] = [
        f"llm annotator ({m})" if isinstance(m, str) else "llm annotator"
        for m in models[unlabelled]]
    known = set(info.loc[info["scenario"].notna(), "pair_id"])
    todo = pairs[~pairs["id"].isin(known)]
    if todo.empty:
        return info
    if classified is not None:
        found = classified.reindex(todo["id"].to_numpy())
    else:
        queries = todo["query"].fillna("").astype(str)
        groups = {q: classify(q) for q in queries.unique()}  # a query asked of many models once
        found = pd.Series(queries.map(groups).to_numpy(), index=todo["id"].to_numpy())
    has_row = info["pair_id"].isin(found.index)
    info.loc[has_row, "scenario"] = info.loc[has_row, "pair_id"].map(found).to_numpy()
    info.loc[has_row, "scenario_source"] = SOURCE
    fresh = found[~found.index.isin(set(info["pair_id"]))]
    rows = pd.DataFrame({"pair_id": fresh.index, "scenario": fresh.to_numpy(), "status": OK,
                         "model": VERSION, "scenario_source": SOURCE})
    return pd.concat([info, rows], ignore_index=True) if len(rows) else info


@register("annotator", "scenario", "offline rules: each query's scenario (the paper's 11 "
          "groups) where the data has none; runs with every annotator")
class ScenarioAnnotator:
    """Assign scenarios offline; see the module docstring.

    It measures no property: its work is the study's query information, which
    :func:`prefdissect.pipeline.annotate` fills in after every annotator when the
    pairs have no scenario, so this entry mainly lets ``annotate --annotator
    scenario`` run the step alone.
    """

    name = "scenario"

    def measures(self, schema: PropertySchema) -> list[str]:
        """Return no property: scenarios are query information, not annotations."""
        return []

    def annotate(self, pairs: pd.DataFrame, schema: PropertySchema,
                 progress: Progress | None = None) -> pd.DataFrame:
        """Return an empty annotation table (the pipeline assigns the scenarios)."""
        if progress:
            progress(len(pairs))
        return pd.DataFrame(columns=list(ANNOTATION_COLUMNS))
