"""``text``: a synthetic SST-2-like sentence-sentiment task whose labels need word order and negation scope.

SpikingBERT (Bal & Sengupta, AAAI 2024) distils a BERT teacher into a spiking transformer and evaluates it on GLUE
sentence classification (SST-2: binary movie-review sentiment). No corpus can be downloaded here, so this module
*generates* short review sentences from a small grammar and labels each by a compositional rule — the data are
synthetic, and the book says so. The grammar is built so that a bag-of-words model is clearly worse than a model
that reads the words in order:

* **sentiment words**: positive/negative adjectives ("charming", "tedious") and verbs ("loved", "hated");
* **negation with a scope**: "not", "never", "hardly" (and "did not" before a verb) flip the polarity of the *next*
  sentiment phrase only, not of the rest of the sentence;
* **sentence negation** ("i would not say that", "it is not true that", ...) flips a whole clause; together with a
  negation inside the clause it is a **double negation** ("i would not say that the plot was not clever" → positive);
* **intensifiers** ("very", "extremely", "really", ...) and **downtoners** ("slightly", "somewhat", ...) change a
  phrase's strength; "not" before an intensifier gives a *weak* opposite ("not very good" is mildly negative);
* **contrast**: in "A , but B" and "although A , B" the clause B decides, in "B , although A" the first clause B
  decides; "funny but shallow" inside a clause is decided by its second adjective;
* **coordination**: in "A and B" the strengths add ("the plot was slightly dull and the cast was very good" →
  positive), so what an intensifier attaches to matters;
* **distractors**: sentiment words inside a description ("the film about a boring town") do not count, and
  **fillers** ("honestly ,", "in the end ,", "also", neutral adjectives) carry no sentiment.

Scoring (the ground truth): a sentiment phrase scores ``polarity x strength`` with strength 1 (downtoned),
2 (plain), 3 (intensified); negation flips the sign (a negated intensified phrase has strength 1); a clause scores
its phrase, sentence negation flips a clause; a sentence scores its deciding clause (contrast) or the sum of its
clauses (coordination, never zero); the label is ``score > 0`` (1 = positive, 0 = negative, as SST-2).

**Label noise**: a fraction ``label_noise`` (default 5%) of the labels of *both* splits is flipped at random, as
annotators disagree on real reviews; the noiseless labels stay in ``dataset.clean_labels``, so the best achievable
test accuracy on noisy labels is about ``1 - label_noise``. Sentences are unique across the whole data set (train
and test never share a sentence), classes are exactly balanced before noise.

**Splits**: 4,000 training and 2,000 test sentences by default (a large test split: one test sentence moves the
accuracy by 0.05 percentage points). A hash of each sentence (salted with ``seed``) assigns it to the training or the
test half of the sentence space, and each split is drawn from its own random stream within its half, so the two
never share a sentence and each depends only on its own size: enlarging the test split leaves the training split
unchanged and vice versa, and a smaller split is a subset of a larger one.

Tokens: a word-level :class:`WordTokenizer` over the grammar's lexicon (special tokens ``[PAD]=0``, ``[CLS]=1``,
``[SEP]=2``, ``[UNK]=3``), fixed length ``max_len`` with right padding; the padding (attention) mask is
``ids != 0`` (:meth:`TextDataset.mask`).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from .cache import cached_arrays
from .registry import DatasetInfo, register_dataset

__all__ = ["text", "TextDataset", "WordTokenizer", "generate_text", "build_vocab", "score_sentence", "LEXICON",
           "SPECIAL_TOKENS", "PAD_ID", "CLS_ID", "SEP_ID", "UNK_ID", "TEMPLATES", "TAGS", "MAX_WORDS", "SPLITS",
           "sentence_split"]

_VERSION = 2             # 2: train and test pools from their own streams and halves of the sentence space
SPECIAL_TOKENS = ("[PAD]", "[CLS]", "[SEP]", "[UNK]")
PAD_ID, CLS_ID, SEP_ID, UNK_ID = range(4)
MAX_WORDS = 30          # the generator never makes a longer sentence (in tokens, commas included)
CLASSES = ("negative", "positive")
SPLITS = ("train", "test")

# ----------------------------------------------------------------------------------------------------------------
# Lexicon. The vocabulary is built from it in this order (categories, then entries, first occurrence of each word),
# so the ids never depend on a seed. Multi-word entries are split into tokens.
# ----------------------------------------------------------------------------------------------------------------
LEXICON: dict[str, tuple[str, ...]] = {
    "positive_adjectives": ("good", "great", "wonderful", "delightful", "charming", "brilliant", "funny", "clever",
                            "beautiful", "superb", "engaging", "gripping", "touching", "fresh", "witty", "memorable",
                            "stunning", "enjoyable", "solid", "heartfelt"),
    "negative_adjectives": ("bad", "awful", "dull", "boring", "terrible", "clumsy", "tedious", "bland", "messy",
                            "painful", "weak", "forgettable", "lifeless", "predictable", "shallow", "annoying",
                            "sloppy", "stale", "pointless", "dreadful"),
    # verbs as (past, base) pairs, flattened: past forms at even, base forms at odd positions
    "positive_verbs": ("loved", "love", "enjoyed", "enjoy", "admired", "admire", "liked", "like", "adored", "adore",
                       "praised", "praise", "appreciated", "appreciate"),
    "negative_verbs": ("hated", "hate", "disliked", "dislike", "despised", "despise", "loathed", "loathe",
                       "resented", "resent", "mocked", "mock"),
    "adjective_negators": ("not", "never", "hardly"),
    "verb_negators": ("never", "hardly", "did not"),
    "adjective_intensifiers": ("very", "extremely", "really", "truly", "incredibly", "remarkably"),
    "verb_intensifiers": ("really", "truly", "absolutely"),
    "adjective_downtoners": ("somewhat", "slightly", "fairly", "mildly", "a bit"),
    "verb_downtoners": ("somewhat", "mildly", "kind of"),
    "sentence_negators": ("i would not say that", "it is not true that", "no one could claim that",
                          "i can not say that", "nobody would argue that"),
    "determiners": ("the", "this", "its"),
    "nouns": ("film", "movie", "story", "plot", "script", "acting", "cast", "ending", "dialogue", "soundtrack",
              "direction", "pacing", "humor", "cinematography", "lead", "sequel", "premise", "score"),
    "neutral_adjectives": ("new", "long", "short", "recent", "french", "animated", "second", "final", "quiet",
                           "latest"),
    "topics": ("town", "family", "summer", "war", "friendship", "robot", "detective", "marriage", "journey",
               "chef"),
    "subjects": ("i", "we", "everyone", "the critics", "the audience", "my friends"),
    "copulas": ("is", "was", "seems", "felt"),
    "neutral_adverbs": ("also", "still", "often", "at times"),
    "fillers": ("honestly", "frankly", "overall", "in the end", "to be fair", "i think", "in my opinion",
                "of course", "at first", "as expected", "well"),
    "connectives": ("but", "although", "and", "about", "a", "an", ","),
}

TEMPLATES = ("simple", "negated", "sentence-negated", "but", "although-first", "although-last", "and")
TAGS = {"negation": 1, "double_negation": 2, "contrast": 4, "intensifier": 8, "downtoner": 16, "coordination": 32,
        "distractor": 64, "sentence_negation": 128}


def build_vocab() -> list[str]:
    """The vocabulary: the special tokens, then every word of :data:`LEXICON` in order of first appearance."""
    vocab = list(SPECIAL_TOKENS)
    seen = set(vocab)
    for entries in LEXICON.values():
        for entry in entries:
            for word in entry.split():
                if word not in seen:
                    seen.add(word)
                    vocab.append(word)
    return vocab


# ----------------------------------------------------------------------------------------------------------------
# Tokenizer
# ----------------------------------------------------------------------------------------------------------------
_SPLIT = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


class WordTokenizer:
    """Word-level tokenizer over a fixed vocabulary: lower-cases, splits off punctuation, maps unknown words to
    ``[UNK]``; ``encode`` pads (right, with ``[PAD]=0``) or truncates to ``max_len`` and optionally prepends
    ``[CLS]`` (the token a BERT-style classifier reads).

    Args:
        vocab: tokens in id order; the first four must be ``[PAD] [CLS] [SEP] [UNK]`` (default :func:`build_vocab`).
        max_len: length of every encoded sequence, ``[CLS]`` included.
        add_cls: prepend ``[CLS]``.
    """

    def __init__(self, vocab: list[str] | None = None, max_len: int = 32, add_cls: bool = True):
        vocab = list(vocab) if vocab is not None else build_vocab()
        if tuple(vocab[:4]) != SPECIAL_TOKENS:
            raise ValueError(f"the vocabulary must start with {SPECIAL_TOKENS}, got {vocab[:4]}")
        if len(set(vocab)) != len(vocab):
            raise ValueError("the vocabulary has duplicate tokens")
        if max_len < 1 + int(add_cls):
            raise ValueError(f"max_len must leave room for at least one word, got {max_len} (add_cls={add_cls})")
        self.vocab = vocab
        self.index = {token: i for i, token in enumerate(vocab)}
        self.max_len = max_len
        self.add_cls = add_cls
        self.pad_id, self.cls_id, self.sep_id, self.unk_id = PAD_ID, CLS_ID, SEP_ID, UNK_ID

    def __len__(self) -> int:
        return len(self.vocab)

    @staticmethod
    def tokenize(sentence: str) -> list[str]:
        """Lower-cased word and punctuation tokens: ``"Not bad, really."`` → ``[not, bad, ",", really, "."]``."""
        return _SPLIT.findall(sentence.lower())

    def encode(self, sentence: str, pad: bool = True) -> list[int]:
        """Token ids of ``sentence``: ``[CLS]`` (if ``add_cls``), the words (unknown → ``[UNK]``), truncated to
        ``max_len`` and, if ``pad``, right-padded with ``[PAD]``."""
        ids = [self.index.get(token, UNK_ID) for token in self.tokenize(sentence)]
        if self.add_cls:
            ids = [CLS_ID] + ids
        ids = ids[:self.max_len]
        return ids + [PAD_ID] * (self.max_len - len(ids)) if pad else ids

    def encode_batch(self, sentences: list[str]) -> torch.Tensor:
        """``[N, max_len]`` int64 ids of ``sentences``."""
        return torch.tensor([self.encode(s) for s in sentences], dtype=torch.long).reshape(len(sentences),
                                                                                          self.max_len)

    def decode(self, ids, skip_special: bool = True) -> str:
        """The sentence of ``ids`` (list, array or tensor); ``[PAD] [CLS] [SEP]`` are dropped if ``skip_special``."""
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        tokens = [self.vocab[i] if 0 <= i < len(self.vocab) else SPECIAL_TOKENS[UNK_ID] for i in ids]
        if skip_special:
            tokens = [t for t in tokens if t not in SPECIAL_TOKENS[:3]]
        return " ".join(tokens)

    def mask(self, ids: torch.Tensor) -> torch.Tensor:
        """Boolean padding mask, ``True`` at real tokens: ``ids != [PAD]`` (``[N, L]`` or ``[L]``)."""
        return ids != PAD_ID


# ----------------------------------------------------------------------------------------------------------------
# Grammar
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class _Phrase:
    words: list[str]
    score: int          # signed strength; the sign is the polarity
    tags: int = 0


def _pick(rng: np.random.Generator, options) -> str:
    return options[int(rng.integers(len(options)))]


_MODE_P = {5: np.array([0.45, 0.2, 0.1, 0.18, 0.07]), 3: np.array([0.6, 0.27, 0.13])}


def _sentiment_core(rng: np.random.Generator, verb: bool, negatable: bool = True) -> _Phrase:
    """An adjective (or verb) phrase with optional negation / intensifier / downtoner, and its score."""
    polarity = 1 if rng.random() < 0.5 else -1
    modes = ("plain", "intens", "down", "neg", "neg_intens") if negatable else ("plain", "intens", "down")
    mode = modes[int(rng.choice(len(modes), p=_MODE_P[len(modes)]))]
    kind = "verb" if verb else "adjective"
    pool = LEXICON[("positive_" if polarity > 0 else "negative_") + kind + ("s" if not verb else "s")]
    if verb:
        k = int(rng.integers(len(pool) // 2))
        word, base = pool[2 * k], pool[2 * k + 1]
    else:
        word = base = _pick(rng, pool)
    strength = {"plain": 2, "intens": 3, "down": 1, "neg": 2, "neg_intens": 1}[mode]
    sign = -1 if mode.startswith("neg") else 1
    tags = 0
    if mode == "intens":
        words = [_pick(rng, LEXICON[f"{kind}_intensifiers"]), word]
        tags |= TAGS["intensifier"]
    elif mode == "down":
        words = _pick(rng, LEXICON[f"{kind}_downtoners"]).split() + [word]
        tags |= TAGS["downtoner"]
    elif mode == "neg":
        negator = _pick(rng, LEXICON[f"{kind}_negators"])
        words = negator.split() + [base if negator == "did not" else word]
        tags |= TAGS["negation"]
    elif mode == "neg_intens":   # "not very good", "did not really love"
        if verb:
            words = ["did", "not", _pick(rng, LEXICON["verb_intensifiers"]), base]
        else:
            words = ["not", _pick(rng, LEXICON["adjective_intensifiers"]), word]
        tags |= TAGS["negation"] | TAGS["intensifier"]
    else:
        words = [word]
    return _Phrase(words, sign * polarity * strength, tags)


def _noun_phrase(rng: np.random.Generator, allow_description: bool) -> _Phrase:
    words = [_pick(rng, LEXICON["determiners"])]
    if rng.random() < 0.25:
        words.append(_pick(rng, LEXICON["neutral_adjectives"]))
    words.append(_pick(rng, LEXICON["nouns"]))
    tags = 0
    if allow_description and rng.random() < 0.15:    # "the film about a boring town": does not count
        pool = LEXICON["positive_adjectives"] + LEXICON["negative_adjectives"]
        adjective = _pick(rng, pool)
        words += ["about", "an" if adjective[0] in "aeiou" else "a", adjective, _pick(rng, LEXICON["topics"])]
        tags |= TAGS["distractor"]
    return _Phrase(words, 0, tags)


def _clause(rng: np.random.Generator, negatable: bool = True) -> _Phrase:
    """A clause with exactly one deciding sentiment phrase: copular ("the plot was not very clever"), copular with
    an inner contrast ("the cast was funny but shallow") or verbal ("i never enjoyed the ending")."""
    form = rng.random()
    if form < 0.55:                                   # NP [, filler ,] COP [adv] ADJP
        subject = _noun_phrase(rng, allow_description=True)
        words = list(subject.words)
        if rng.random() < 0.1:
            words += [","] + _pick(rng, LEXICON["fillers"]).split() + [","]
        words.append(_pick(rng, LEXICON["copulas"]))
        if rng.random() < 0.15:
            words += _pick(rng, LEXICON["neutral_adverbs"]).split()
        core = _sentiment_core(rng, verb=False, negatable=negatable)
        return _Phrase(words + core.words, core.score, core.tags | subject.tags)
    if form < 0.7:                                    # NP COP ADJP but ADJP: the second adjective phrase decides
        subject = _noun_phrase(rng, allow_description=False)
        first = _sentiment_core(rng, verb=False, negatable=True)
        second = _sentiment_core(rng, verb=False, negatable=negatable)
        if np.sign(first.score) == np.sign(second.score) and rng.random() < 0.8:
            second = _sentiment_core(rng, verb=False, negatable=negatable)   # usually a real contrast
        words = subject.words + [_pick(rng, LEXICON["copulas"])] + first.words + ["but"] + second.words
        return _Phrase(words, second.score, first.tags | second.tags | TAGS["contrast"])
    subject = _pick(rng, LEXICON["subjects"]).split()  # SUBJ VP NP
    core = _sentiment_core(rng, verb=True, negatable=negatable)
    obj = _noun_phrase(rng, allow_description=False).words if rng.random() < 0.8 else ["it"]
    return _Phrase(subject + core.words + obj, core.score, core.tags)


def _sentence(rng: np.random.Generator, template: str) -> _Phrase:
    if template == "simple":
        while (clause := _clause(rng, negatable=False)).tags & TAGS["contrast"]:
            pass
        words = clause.words
        if rng.random() < 0.3:
            words = _pick(rng, LEXICON["fillers"]).split() + [","] + words
        return _Phrase(words, clause.score, clause.tags)
    if template == "negated":
        while True:
            clause = _clause(rng)
            if clause.tags & TAGS["negation"]:
                break
        words = clause.words
        if rng.random() < 0.3:
            words = _pick(rng, LEXICON["fillers"]).split() + [","] + words
        return _Phrase(words, clause.score, clause.tags)
    if template == "sentence-negated":                 # flips the clause; with an inner negation: double negation
        clause = _clause(rng)
        tags = clause.tags | TAGS["sentence_negation"]
        if clause.tags & TAGS["negation"]:
            tags |= TAGS["double_negation"]
        return _Phrase(_pick(rng, LEXICON["sentence_negators"]).split() + clause.words, -clause.score, tags)
    first, second = _clause(rng), _clause(rng)
    if template in ("but", "although-first", "although-last"):
        if np.sign(first.score) == np.sign(second.score) and rng.random() < 0.8:
            second = _clause(rng)                     # contrast usually joins opposite polarities
        tags = first.tags | second.tags | TAGS["contrast"]
        if template == "but":                         # A , but B  -> B
            return _Phrase(first.words + [",", "but"] + second.words, second.score, tags)
        if template == "although-first":              # although A , B  -> B
            return _Phrase(["although"] + first.words + [","] + second.words, second.score, tags)
        return _Phrase(second.words + [",", "although"] + first.words, second.score, tags)  # B , although A -> B
    if template == "and":                             # A and B -> the strengths add (never zero)
        while first.score + second.score == 0:
            second = _clause(rng)
        return _Phrase(first.words + ["and"] + second.words, first.score + second.score,
                       first.tags | second.tags | TAGS["coordination"])
    raise ValueError(f"unknown template {template!r}; choose one of {TEMPLATES}")


_TEMPLATE_P = np.array([0.40, 0.15, 0.08, 0.13, 0.05, 0.05, 0.14])


def sentence_split(sentence: str, seed: int = 0) -> str:
    """The half of the sentence space ``sentence`` belongs to for data seed ``seed``: ``"train"`` or ``"test"`` (a
    salted hash of the text, so the two halves are random, equally likely, and disjoint by construction)."""
    digest = hashlib.sha256(f"{seed}|{sentence}".encode()).digest()
    return SPLITS[digest[0] & 1]


def generate_text(n_per_class: int, seed: int = 0, split: str | None = None) -> dict[str, np.ndarray]:
    """``2 * n_per_class`` unique sentences, exactly balanced: ``{"tokens": [N, MAX_WORDS] int16 ids (0-padded, no
    [CLS]), "labels": int8 clean labels, "scores": int8, "templates": int8 index into TEMPLATES, "tags": int16
    bitmask of TAGS}``, in generation order (class-interleaved only by chance).

    ``split=None`` draws from the whole sentence space with the stream ``seed``; ``split="train"`` / ``"test"`` only
    keeps sentences of that half (:func:`sentence_split`), drawn from a stream of that split's own, so the pools of
    the two splits are disjoint and independent of each other's size. The first ``k`` sentences of a class are the
    same for every ``n_per_class >= k``."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be None or one of {SPLITS}, got {split!r}")
    rng = np.random.default_rng(seed if split is None else [seed, 7, 1 + SPLITS.index(split)])
    index = {w: i for i, w in enumerate(build_vocab())}
    seen: set[str] = set()
    rows: list[tuple[list[int], int, int, int, int]] = []
    counts = [0, 0]
    attempts = 0
    while min(counts) < n_per_class:
        attempts += 1
        if attempts > 50 * n_per_class + 10_000:
            raise RuntimeError(f"could not generate {n_per_class} unique sentences per class")
        t = int(rng.choice(len(TEMPLATES), p=_TEMPLATE_P))
        phrase = _sentence(rng, TEMPLATES[t])
        label = int(phrase.score > 0)
        if counts[label] >= n_per_class or len(phrase.words) > MAX_WORDS:
            continue
        key = " ".join(phrase.words)
        if key in seen or (split is not None and sentence_split(key, seed) != split):
            continue
        seen.add(key)
        counts[label] += 1
        rows.append(([index[w] for w in phrase.words], label, phrase.score, t, phrase.tags))
    tokens = np.zeros((len(rows), MAX_WORDS), dtype=np.int16)
    for i, row in enumerate(rows):
        tokens[i, :len(row[0])] = row[0]
    return {"tokens": tokens, "labels": np.array([r[1] for r in rows], dtype=np.int8),
            "scores": np.array([r[2] for r in rows], dtype=np.int8),
            "templates": np.array([r[3] for r in rows], dtype=np.int8),
            "tags": np.array([r[4] for r in rows], dtype=np.int16)}


# ----------------------------------------------------------------------------------------------------------------
# The labelling rule, re-implemented as a reader of sentences (independent of the generator; tests compare them)
# ----------------------------------------------------------------------------------------------------------------
def _words(category: str) -> set[str]:
    return {w for entry in LEXICON[category] for w in entry.split()}


_POSITIVE = set(LEXICON["positive_adjectives"]) | set(LEXICON["positive_verbs"])
_NEGATIVE = set(LEXICON["negative_adjectives"]) | set(LEXICON["negative_verbs"])
_NEGATORS = {"not", "never", "hardly"}
_INTENSIFIERS = _words("adjective_intensifiers") | _words("verb_intensifiers")
_DOWNTONERS = {e.split()[-1] for e in LEXICON["adjective_downtoners"] + LEXICON["verb_downtoners"]}  # bit, of, ...
_FILLERS = sorted((tuple(f.split()) for f in LEXICON["fillers"]), key=len, reverse=True)
_SENTENCE_NEGATORS = [tuple(s.split()) for s in LEXICON["sentence_negators"]]


def _phrase_score(tokens: list[str]) -> int:
    """Score of the one deciding sentiment word in ``tokens`` (a clause without sentence negation)."""
    if "but" in tokens:                                    # inner contrast: the part after "but" decides
        tokens = tokens[tokens.index("but") + 1:]
    hits = [i for i, t in enumerate(tokens) if t in _POSITIVE or t in _NEGATIVE]
    if len(hits) != 1:
        raise ValueError(f"expected one sentiment word in {' '.join(tokens)!r}, found {len(hits)}")
    i = hits[0]
    polarity = 1 if tokens[i] in _POSITIVE else -1
    before = tokens[max(0, i - 2):i]
    if before and before[-1] in _INTENSIFIERS:
        return -polarity if len(before) == 2 and before[0] == "not" else 3 * polarity
    if before and before[-1] in _DOWNTONERS:
        return polarity
    if before and before[-1] in _NEGATORS:
        return -2 * polarity
    return 2 * polarity


def _clause_score(tokens: list[str]) -> int:
    for prefix in _SENTENCE_NEGATORS:
        if tuple(tokens[:len(prefix)]) == prefix:
            return -_clause_score(tokens[len(prefix):])
    kept, i = [], 0
    while i < len(tokens):                                 # drop descriptions: "about a boring town"
        if tokens[i] == "about" and tokens[i + 1:i + 2] in (["a"], ["an"]):
            i += 4
            continue
        kept.append(tokens[i])
        i += 1
    return _phrase_score(kept)


def _strip_fillers(tokens: list[str]) -> list[str]:
    out, i = [], 0
    while i < len(tokens):
        for filler in _FILLERS:
            n = len(filler)
            at_start = i == 0 and tuple(tokens[:n]) == filler and tokens[n:n + 1] == [","]
            inside = (tokens[i] == "," and tuple(tokens[i + 1:i + 1 + n]) == filler
                      and tokens[i + 1 + n:i + 2 + n] == [","])
            if at_start or inside:
                i += n + 1 if at_start else n + 2
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def score_sentence(sentence: str) -> int:
    """The ground-truth score of a sentence of this grammar (label = ``score > 0``), computed by reading it.

    Rules (see the module docstring): fillers are ignored; ``although A , B`` and ``B , although A`` are decided by
    B, ``A , but B`` by B, ``A and B`` by the sum; a sentence negator flips its clause; inside a clause a
    description ``about a(n) ADJ TOPIC`` is ignored, ``X but Y`` is decided by Y, and the sentiment word scores
    ``polarity x`` 2 (plain), 3 (intensifier before it), 1 (downtoner before it), -2 (negator before it) or
    -1 ("not" + intensifier before it). Raises ``ValueError`` on sentences outside the grammar.
    """
    tokens = _strip_fillers(WordTokenizer.tokenize(sentence))
    if tokens and tokens[0] == "although":
        comma = tokens.index(",")
        return _clause_score(tokens[comma + 1:])
    for j in range(len(tokens) - 1):
        if tokens[j] == "," and tokens[j + 1] == "although":
            return _clause_score(tokens[:j])
        if tokens[j] == "," and tokens[j + 1] == "but":
            return _clause_score(tokens[j + 2:])
    if "and" in tokens:
        j = tokens.index("and")
        return _clause_score(tokens[:j]) + _clause_score(tokens[j + 1:])
    return _clause_score(tokens)


# ----------------------------------------------------------------------------------------------------------------
# Dataset
# ----------------------------------------------------------------------------------------------------------------
class TextDataset(Dataset):
    """Encoded sentences and binary labels: ``dataset[i] = (ids, label)``, ``ids`` a ``[max_len]`` int64 tensor
    (``[CLS]`` first if ``add_cls``, right-padded with ``[PAD]=0``), ``label`` an int64 scalar tensor
    (0 = negative, 1 = positive, after label noise).

    Attributes:
        ids: ``[N, max_len]`` int64 token ids; ``mask()`` is ``ids != 0`` (True at real tokens).
        labels: ``[N]`` int64 labels as served (with label noise); ``clean_labels``: the noiseless ones.
        sentences: the raw sentences (``list[str]``); ``scores``: their signed scores (label = score > 0).
        templates: ``[N]`` index into :data:`TEMPLATES`; ``tags``: ``[N]`` bitmask of :data:`TAGS` (for per-phenomenon
            accuracy, e.g. ``(dataset.tags & TAGS["double_negation"]) > 0``).
        tokenizer: the :class:`WordTokenizer` that encodes new sentences the same way.
        info: :class:`~snnlab.data.registry.DatasetInfo`.
    """

    def __init__(self, sentences: list[str], labels: np.ndarray, clean_labels: np.ndarray, scores: np.ndarray,
                 templates: np.ndarray, tags: np.ndarray, tokenizer: WordTokenizer, info: DatasetInfo,
                 bag_of_words: bool = False):
        self.sentences = list(sentences)
        self.bag_of_words = bag_of_words
        self.tokenizer = tokenizer
        self.ids = tokenizer.encode_batch(self.sentences)
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        self.clean_labels = torch.as_tensor(np.asarray(clean_labels, dtype=np.int64))
        self.scores = torch.as_tensor(np.asarray(scores, dtype=np.int64))
        self.templates = torch.as_tensor(np.asarray(templates, dtype=np.int64))
        self.tags = torch.as_tensor(np.asarray(tags, dtype=np.int64))
        self.info = info

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, i):
        return (self.bag(self.ids[i]) if self.bag_of_words else self.ids[i]), self.labels[i]

    def bag(self, ids: torch.Tensor) -> torch.Tensor:
        """Word counts of token ids ``[..., L]`` as float ``[..., vocab]`` (``[PAD]`` and ``[CLS]`` not counted)."""
        counts = torch.zeros(*ids.shape[:-1], len(self.tokenizer)).scatter_add_(-1, ids, torch.ones(ids.shape))
        counts[..., [PAD_ID, CLS_ID]] = 0.0
        return counts

    def mask(self, i=None) -> torch.Tensor:
        """Padding/attention mask, True at real tokens (``ids != [PAD]``): ``[N, L]``, or ``[L]`` for sample ``i``."""
        return self.tokenizer.mask(self.ids if i is None else self.ids[i])

    def has_tag(self, tag: str) -> torch.Tensor:
        """``[N]`` bool: which sentences show phenomenon ``tag`` (a key of :data:`TAGS`)."""
        if tag not in TAGS:
            raise ValueError(f"unknown tag {tag!r}; choose one of {sorted(TAGS)}")
        return (self.tags & TAGS[tag]) > 0


def _split_indices(labels: np.ndarray, size: int, seed: int, split: str) -> np.ndarray:
    """Class-balanced indices of ``size`` sentences of one split's pool (half negative, half positive; an odd size
    gets one more positive): the first sentences of each class in generation order, shuffled by the split's own
    stream. So a split depends only on its own size and ``seed``, and a smaller split is a subset of a larger one."""
    n = (size // 2, size - size // 2)
    chosen = np.concatenate([np.flatnonzero(labels == c)[:n[c]] for c in (0, 1)])
    return np.random.default_rng([seed, 3, 1 + SPLITS.index(split)]).permutation(chosen)


def _noise_draws(labels: np.ndarray, seed: int, split: str) -> np.ndarray:
    """One uniform draw per sentence of a split's pool, a function of its split, class and rank within the class
    only; a label is flipped where its draw is below ``label_noise`` (so a sentence keeps its noisy label across
    split sizes)."""
    u = np.empty(len(labels))
    for c in (0, 1):
        where = np.flatnonzero(labels == c)
        u[where] = np.random.default_rng([seed, 2, 1 + SPLITS.index(split), 1 + c]).random(len(where))
    return u


def _build(train_per_class: int, test_per_class: int, seed: int) -> dict[str, np.ndarray]:
    """Both splits' pools, concatenated (``is_test`` marks the test pool); each from its own stream and half."""
    train = generate_text(train_per_class, seed, "train")
    test = generate_text(test_per_class, seed, "test")
    arrays = {key: np.concatenate([train[key], test[key]]) for key in train}
    arrays["is_test"] = np.arange(len(arrays["labels"])) >= len(train["labels"])
    return arrays


@register_dataset("text")
def text(split: str, train_size: int = 4000, test_size: int = 2000, max_len: int = 32, add_cls: bool = True,
         label_noise: float = 0.05, bag_of_words: bool = False, seed: int = 0) -> TextDataset:
    """Synthetic SST-2-like binary sentiment sentences whose labels need word order (negation scope, contrast,
    intensifiers, double negation); see the module docstring for the grammar and the labelling rule.

    ``train_size`` / ``test_size`` unique sentences (default 4,000 / 2,000; disjoint, class-balanced before noise;
    each split depends only on its own size and ``seed``, a smaller split is a subset of a larger one, and a
    sentence keeps its noisy label across split sizes); ``label_noise`` flips that fraction of the labels of both
    splits (clean labels in ``dataset.clean_labels``); ``max_len`` is the encoded length (``[CLS]`` included if
    ``add_cls``; sentences have at most 30 tokens, longer ``max_len`` pads, shorter truncates).
    Samples: ``(ids [max_len] int64, label int64)``; padding mask ``ids != 0``. With ``bag_of_words=True`` a sample
    is instead the ``[vocab]`` float vector of word counts (order is lost: an order-blind baseline for MLPs).
    Generated from ``seed`` in a second or two and cached under the data folder.
    """
    if train_size < 2 or test_size < 2:
        raise ValueError(f"train_size and test_size must be >= 2, got {train_size} and {test_size}")
    if not 0.0 <= label_noise < 0.5:
        raise ValueError(f"label_noise must be in [0, 0.5), got {label_noise}")
    per_class = {"train_per_class": (train_size + 1) // 2, "test_per_class": (test_size + 1) // 2}
    params = {"seed": seed, **per_class}
    entry = cached_arrays("text", params, lambda: _build(per_class["train_per_class"], per_class["test_per_class"],
                                                         seed), version=_VERSION)
    tokenizer = WordTokenizer(build_vocab(), max_len=max_len, add_cls=add_cls)
    part = "train" if split == "train" else "test"
    pool = np.flatnonzero(entry["is_test"] == (part == "test"))            # this split's pool, in generation order
    pool_clean = entry["labels"][pool].astype(np.int64)
    local = _split_indices(pool_clean, train_size if part == "train" else test_size, seed, part)
    idx = pool[local]
    clean = entry["labels"].astype(np.int64)
    flip = _noise_draws(pool_clean, seed, part)[local] < label_noise
    labels = np.where(flip, 1 - clean[idx], clean[idx])
    sentences = [tokenizer.decode(row) for row in entry["tokens"][idx].astype(np.int64)]
    lengths = (entry["tokens"][idx] != PAD_ID).sum(1) + int(add_cls)
    info = DatasetInfo(
        name="text", classes=CLASSES, sample_shape=(len(tokenizer),) if bag_of_words else (max_len,),
        description="synthetic SST-2-like review sentences from a grammar with negation scope, contrast, "
                    "intensifiers and fillers (binary sentiment, label noise)",
        extra={"vocab_size": len(tokenizer), "max_len": max_len, "pad_id": PAD_ID, "cls_id": CLS_ID,
               "sep_id": SEP_ID, "unk_id": UNK_ID, "add_cls": add_cls, "label_noise": label_noise,
               "flipped": int(flip.sum()), "truncated": int((lengths > max_len).sum()),
               "templates": TEMPLATES, "tags": dict(TAGS), "seed": seed, "bag_of_words": bag_of_words,
               "checksum": entry.checksum, "cache": entry.summary()},
    )
    return TextDataset(sentences, labels, clean[idx], entry["scores"][idx], entry["templates"][idx],
                       entry["tags"][idx], tokenizer, info, bag_of_words)
