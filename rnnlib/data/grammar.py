"""A synthetic corpus whose true entropy is known exactly: a small finite probabilistic grammar (notebook 1).

A language model trained on real text never learns how good it *could* get. Here the
text is sampled from a known probabilistic context-free grammar with no recursion, so
the language is finite: every sentence and its probability can be listed, and the
entropy per predicted token (the lowest cross-entropy loss any model can reach) is exact.
"""

import bisect
import itertools
import math
from functools import cache, cached_property

import nltk
import numpy as np

from rnnlib.interface import check_seed_or_generator

# Subjects are animals or people, objects are things, places follow prepositions; the
# probabilities are uneven on purpose, so that some sentences are far likelier than others.
DEFAULT_GRAMMAR = """
S -> NP VP '.' [0.8] | 'does' NP VBASE '?' [0.2]
NP -> DET ANIMAL [0.55] | 'the' ADJ ANIMAL [0.3] | 'the' PERSON [0.15]
VP -> VI [0.3] | VI ADV [0.1] | VT OBJ [0.4] | VI PP [0.2]
OBJ -> 'the' THING [0.7] | 'the' THING_ADJ THING [0.3]
PP -> PREP 'the' PLACE [1.0]
DET -> 'the' [0.7] | 'a' [0.3]
ADJ -> 'small' [0.5] | 'old' [0.3] | 'happy' [0.2]
THING_ADJ -> 'red' [0.5] | 'new' [0.3] | 'heavy' [0.2]
ANIMAL -> 'dog' [0.35] | 'cat' [0.3] | 'bird' [0.2] | 'horse' [0.15]
PERSON -> 'teacher' [0.5] | 'farmer' [0.3] | 'child' [0.2]
THING -> 'ball' [0.3] | 'book' [0.25] | 'apple' [0.2] | 'letter' [0.15] | 'box' [0.1]
PLACE -> 'garden' [0.4] | 'house' [0.3] | 'river' [0.2] | 'market' [0.1]
PREP -> 'in' [0.5] | 'near' [0.3] | 'behind' [0.2]
VI -> 'sleeps' [0.35] | 'runs' [0.3] | 'sings' [0.2] | 'waits' [0.15]
VBASE -> 'sleep' [0.35] | 'run' [0.3] | 'sing' [0.2] | 'wait' [0.15]
VT -> 'sees' [0.4] | 'wants' [0.3] | 'finds' [0.2] | 'carries' [0.1]
ADV -> 'quietly' [0.5] | 'often' [0.3] | 'again' [0.2]
"""


def _concatenate(parts: list[dict], prob: float):
    """Yield (words, probability) for every way of joining one sequence from each part."""
    if not parts:
        yield (), prob
        return
    for head, p in parts[0].items():
        for tail, q in _concatenate(parts[1:], prob * p):
            yield head + tail, q


class SyntheticGrammar:
    """A finite PCFG (nltk syntax): sample sentences, list the language, know its entropy."""

    def __init__(self, grammar: str = DEFAULT_GRAMMAR):
        self.pcfg = nltk.PCFG.fromstring(grammar)
        self.start = self.pcfg.start()
        # nonterminal -> (right-hand sides, their probabilities, cumulative probabilities)
        self._rules: dict = {}
        for lhs in sorted({p.lhs() for p in self.pcfg.productions()}, key=str):
            productions = self.pcfg.productions(lhs=lhs)
            probs = [p.prob() for p in productions]
            # nltk tolerates sums off by 1%; exact entropies need exact probabilities.
            if abs(math.fsum(probs) - 1.0) > 1e-9:
                raise ValueError(
                    f"the rules of {lhs} have probabilities summing to {math.fsum(probs)}, not 1"
                )
            cumulative = list(itertools.accumulate(probs))
            self._rules[lhs] = ([p.rhs() for p in productions], probs, cumulative)
        self._check_finite()

    def _check_finite(self) -> None:
        """Raise ValueError if a nonterminal can derive itself (an infinite language) or has no rules."""
        done = set()

        def visit(symbol, path):
            if not isinstance(symbol, str) and symbol not in self._rules:
                raise ValueError(
                    f"the grammar uses {symbol} (in a rule of {path[-1]}) but has no rules for it"
                )
            if symbol in path:
                cycle = " -> ".join(map(str, [*path[path.index(symbol) :], symbol]))
                raise ValueError(f"the grammar is recursive ({cycle}): its language is infinite")
            if isinstance(symbol, str) or symbol in done:
                return
            for rhs in self._rules[symbol][0]:
                for child in rhs:
                    visit(child, [*path, symbol])
            done.add(symbol)

        visit(self.start, [])

    @cached_property
    def words(self) -> list[str]:
        """The terminal words of the grammar, sorted."""
        return sorted({s for p in self.pcfg.productions() for s in p.rhs() if isinstance(s, str)})

    def language(self) -> dict[tuple[str, ...], float]:
        """Every sentence with its total probability (summed over all of its derivations)."""
        return dict(self._language)

    @cached_property
    def _language(self) -> dict[tuple[str, ...], float]:
        memo: dict = {}

        def strings(symbol) -> dict:
            # The distribution of the word sequences that `symbol` derives.
            if isinstance(symbol, str):
                return {(symbol,): 1.0}
            if symbol not in memo:
                dist: dict = {}
                for rhs, prob in zip(*self._rules[symbol][:2], strict=True):
                    for sentence, p in _concatenate([strings(child) for child in rhs], prob):
                        # Several derivations of one sentence (ambiguity): probabilities add.
                        dist[sentence] = dist.get(sentence, 0.0) + p
                memo[symbol] = dist
            return memo[symbol]

        return strings(self.start)

    @cached_property
    def sentence_entropy(self) -> float:
        """Entropy of a whole sentence, in nats: -sum p(s) log p(s)."""
        return -math.fsum(p * math.log(p) for p in self._language.values() if p > 0)

    @cached_property
    def expected_length(self) -> float:
        """Expected number of predicted tokens per sentence: its words plus SENTENCE_END."""
        return math.fsum(p * (len(s) + 1) for s, p in self._language.items())

    @cached_property
    def entropy_per_token(self) -> float:
        """The lowest per-token cross-entropy (nats) any language model of this text can reach."""
        return self.sentence_entropy / self.expected_length

    def sample(self, n_sentences: int, seed) -> list[list[str]]:
        """`n_sentences` sentences generated top-down, reproducibly from `seed` (or a Generator)."""
        if not isinstance(n_sentences, int | np.integer) or n_sentences < 0:
            raise ValueError(f"n_sentences={n_sentences!r}: expected a non-negative integer")
        rng = np.random.default_rng(check_seed_or_generator(seed))
        uniforms: list[float] = []  # drawn in blocks: one rng call per choice is slow

        def expand(symbol, words: list[str]) -> None:
            if isinstance(symbol, str):
                words.append(symbol)
                return
            if not uniforms:
                uniforms.extend(rng.random(4096).tolist())
            rhss, _, cumulative = self._rules[symbol]
            # Scaling by the total keeps the index in range when the sum is a hair below 1.
            choice = bisect.bisect_right(cumulative, uniforms.pop() * cumulative[-1])
            for child in rhss[choice]:
                expand(child, words)

        sentences = []
        for _ in range(int(n_sentences)):
            words: list[str] = []
            expand(self.start, words)
            sentences.append(words)
        return sentences


@cache
def default_grammar() -> SyntheticGrammar:
    """The grammar behind `synthetic_corpus` (built once)."""
    return SyntheticGrammar(DEFAULT_GRAMMAR)


def synthetic_corpus(n_sentences: int, seed) -> list[list[str]]:
    """Lower-case token lists sampled from the default grammar with np.random.default_rng(seed)."""
    return default_grammar().sample(n_sentences, seed)


def grammar_entropy() -> float:
    """Exact entropy per predicted token (words + SENTENCE_END) of the default grammar, in nats."""
    return default_grammar().entropy_per_token
