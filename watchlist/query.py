"""The watch-list query language (for ``search`` and cluster ``query`` rules).

Analysts know it from Lucene, Talkwalker and Meltwater::

    "Interior Ministry" NEAR/10 (Hashd OR PMF) NOT France
    @PMF AND (Basra OR البصرة) -Kuwait

- ``word`` and ``"a phrase"`` match whole normalised words, exactly like watch-list
  terms (same normaliser, Arabic prefixes, optional ``al``); a bare word that the
  normaliser splits (``al-Khazali``) is a phrase.
- ``AND``, ``OR``, ``NOT`` (upper case; lower-case ``and`` is an ordinary word), and
  ``-term`` for ``NOT term``. Adjacent terms without an operator are ANDed.
- ``a NEAR/n b``: both occur with at most ``n`` words between them.
- ``@Name`` or ``@"Name with spaces"``: the named watch-list cluster counts for the
  article (its term positions serve ``NEAR``).
- Precedence, tightest first: ``NOT``/``-``, ``NEAR/n``, ``AND`` (explicit or
  implicit), ``OR``. Parentheses group.

``Query.parse`` raises ``QuerySyntaxError`` with the 0-based position of the problem.

``AND`` and ``OR`` are n-ary (``a OR b OR c`` is one node), so a thousand OR-ed terms
make a flat tree. Nesting (parentheses, ``NOT``, a chain of ``NEAR``) is limited to
``MAX_DEPTH`` levels: every walker of the tree recurses, and a deeper query is refused
as "nested too deeply" instead of exhausting Python's stack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from errors import QuerySyntaxError
from watchlist.normalise import normalise
from watchlist.terms import TermIndex, gap

Span = tuple[int, int]
"""Normalised word positions ``[start, end)``."""

Outcome = tuple[bool, Sequence[Span]]
"""Whether a (sub)query holds, and the positions that make it hold."""


@dataclass(frozen=True)
class Term:
    text: str
    normalised: str
    position: int


@dataclass(frozen=True)
class ClusterRef:
    name: str
    position: int


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    """Every part holds (two or more parts)."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one part holds (two or more parts)."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Near:
    left: Node
    right: Node
    distance: int


Node = Term | ClusterRef | Not | And | Or | Near

MAX_DEPTH = 32
"""Deepest nesting a query may have: parentheses, ``NOT`` and ``NEAR`` links each add a
level. Real queries use a handful; the limit keeps every recursive walker far from
Python's recursion limit."""


class Token(NamedTuple):
    kind: str  # word, phrase, cluster, and, or, not, near, lparen, rparen, end
    text: str
    position: int
    distance: int = 0


_OPERATORS = {"AND": "and", "OR": "or", "NOT": "not"}
_NEAR = re.compile(r"NEAR(?:/(\d*))?$")
_WORD_END = re.compile(r'[\s()"]')


def tokenize(source: str) -> list[Token]:
    """The query's tokens, ending with an ``end`` token."""
    tokens: list[Token] = []
    index = 0
    while index < len(source):
        char = source[index]
        if char.isspace():
            index += 1
        elif char in "()":
            tokens.append(Token("lparen" if char == "(" else "rparen", char, index))
            index += 1
        elif char == '"':
            close = source.find('"', index + 1)
            if close < 0:
                raise QuerySyntaxError("unterminated phrase", source, index)
            tokens.append(Token("phrase", source[index + 1 : close], index))
            index = close + 1
        elif char == "@":
            if source.startswith('"', index + 1):
                close = source.find('"', index + 2)
                if close < 0:
                    raise QuerySyntaxError("unterminated cluster name", source, index)
                name, after = source[index + 2 : close], close + 1
            else:
                end = _word_end(source, index + 1)
                name, after = source[index + 1 : end], end
            if not name.strip():
                raise QuerySyntaxError("'@' needs a cluster name", source, index)
            tokens.append(Token("cluster", name.strip(), index))
            index = after
        elif char == "-" and index + 1 < len(source) and not _WORD_END.match(source[index + 1]):
            tokens.append(Token("not", char, index))
            index += 1
        else:
            end = _word_end(source, index)
            word = source[index:end]
            tokens.append(_word_token(word, source, index))
            index = end
    tokens.append(Token("end", "", len(source)))
    return tokens


def _word_end(source: str, start: int) -> int:
    match = _WORD_END.search(source, start)
    return match.start() if match else len(source)


def _word_token(word: str, source: str, position: int) -> Token:
    if word in _OPERATORS:
        return Token(_OPERATORS[word], word, position)
    near = _NEAR.match(word)
    if near:
        if not near.group(1):
            raise QuerySyntaxError("NEAR needs a distance, like NEAR/10", source, position)
        return Token("near", word, position, int(near.group(1)))
    return Token("word", word, position)


_STARTS_OPERAND = {"word", "phrase", "cluster", "lparen", "not"}


@dataclass
class _Parser:
    source: str
    tokens: list[Token]
    index: int = 0
    depth: int = 0
    """Nesting levels open at the current token (see ``MAX_DEPTH``)."""

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def fail(self, message: str, position: int | None = None) -> QuerySyntaxError:
        where = self.token.position if position is None else position
        return QuerySyntaxError(message, self.source, where)

    def enter(self, token: Token) -> None:
        """Open one nesting level at ``token``; refuse to go past ``MAX_DEPTH``."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested too deeply (at most {MAX_DEPTH} levels)", token.position)

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.fail("empty query")
        node = self.parse_or()
        if self.token.kind == "rparen":
            raise self.fail("unbalanced ')'")
        if self.token.kind != "end":  # pragma: no cover - parse_and consumes operands
            raise self.fail(f"unexpected {self.token.text!r}")
        return node

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while self.token.kind == "or":
            operator = self.token
            self.index += 1
            parts.append(self.operand_after(operator, self.parse_and))
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and(self) -> Node:
        parts = [self.parse_near()]
        while self.token.kind == "and" or self.token.kind in _STARTS_OPERAND:
            if self.token.kind == "and":
                operator = self.token
                self.index += 1
                parts.append(self.operand_after(operator, self.parse_near))
            else:
                parts.append(self.parse_near())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_near(self) -> Node:
        outer = self.depth
        node = self.parse_unary()
        while self.token.kind == "near":
            operator = self.token
            self.enter(operator)  # a chain of NEARs nests to the left
            self.index += 1
            right = self.operand_after(operator, self.parse_unary)
            for side in (node, right):
                if isinstance(side, Not):
                    raise self.fail("NEAR cannot take a NOT operand", operator.position)
            node = Near(node, right, operator.distance)
        self.depth = outer
        return node

    def parse_unary(self) -> Node:
        if self.token.kind == "not":
            operator = self.token
            self.enter(operator)
            self.index += 1
            operand = self.operand_after(operator, self.parse_unary)
            self.depth -= 1
            return Not(operand)
        return self.parse_primary()

    def operand_after(self, operator: Token, parse: Callable[[], Node]) -> Node:
        if self.token.kind not in _STARTS_OPERAND:
            raise self.fail(f"{operator.text} needs a term after it", operator.position)
        return parse()

    def parse_primary(self) -> Node:
        token = self.token
        if token.kind == "lparen":
            self.enter(token)
            self.index += 1
            if self.token.kind == "rparen":
                raise self.fail("empty parentheses", token.position)
            node = self.parse_or()
            if self.token.kind != "rparen":
                raise self.fail("missing ')' for this '('", token.position)
            self.index += 1
            self.depth -= 1
            return node
        if token.kind in ("word", "phrase"):
            self.index += 1
            normalised = normalise(token.text)
            if not normalised:
                raise self.fail(f"term {token.text!r} has no letters or digits", token.position)
            return Term(token.text, normalised, token.position)
        if token.kind == "cluster":
            self.index += 1
            return ClusterRef(token.text, token.position)
        if token.kind == "end":
            raise self.fail("query ends where a term was expected")
        raise self.fail(f"expected a term, a phrase, @cluster or '(' before {token.text!r}")


ClusterLookup = Callable[[str], Outcome]


def _no_clusters(name: str) -> Outcome:
    raise LookupError(f"@{name}: cluster references need a watch-list")


@dataclass(frozen=True)
class Query:
    """A parsed query; evaluate it against an article's term positions."""

    source: str
    root: Node

    @classmethod
    def parse(cls, source: str) -> Query:
        return cls(source, _Parser(source, tokenize(source)).parse())

    def terms(self) -> tuple[Term, ...]:
        """Every term and phrase, in query order."""
        return tuple(_walk_terms(self.root, positive=None))

    def positive_terms(self) -> tuple[str, ...]:
        """Terms not under a NOT, as written: an article the query matches contains at
        least one of them (or one of ``cluster_refs``), unless the query is only negative.
        Reports use them to build a full-text prefilter."""
        return tuple(dict.fromkeys(term.text for term in _walk_terms(self.root, positive=True)))

    def cluster_refs(self) -> tuple[str, ...]:
        """Names referenced with ``@``, in query order."""
        return tuple(dict.fromkeys(_walk_clusters(self.root)))

    def evaluate(
        self, term_spans: Callable[[str], Sequence[Span]], cluster: ClusterLookup = _no_clusters
    ) -> Outcome:
        """``term_spans(normalised_term)`` gives a term's positions in the article."""
        return _evaluate(self.root, term_spans, cluster)

    @cached_property
    def _term_index(self) -> tuple[TermIndex, dict[int, str]]:
        index = TermIndex()
        return index, {index.add(term.normalised): term.normalised for term in self.terms()}

    def matches(self, text: str, cluster: ClusterLookup = _no_clusters) -> bool:
        """Whether the query holds for ``text`` (terms found with the watch-list rules)."""
        return self.matches_normalised(normalise(text), cluster)

    def matches_normalised(self, normalised: str, cluster: ClusterLookup = _no_clusters) -> bool:
        """``matches`` for text that is already normalised."""
        index, names = self._term_index
        spans: dict[str, list[Span]] = {}
        for hit in index.find(normalised):
            spans.setdefault(names[hit.term_id], []).append((hit.start, hit.end))
        return self.evaluate(lambda term: spans.get(term, ()), cluster)[0]


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, And | Or):
        return node.parts
    if isinstance(node, Near):
        return (node.left, node.right)
    if isinstance(node, Not):
        return (node.operand,)
    return ()


def _walk_terms(node: Node, positive: bool | None) -> list[Term]:
    """Terms in query order; ``positive`` True: only those under an even number of NOTs
    (False: odd; None: all). Iterative, so a long query costs no stack."""
    found: list[Term] = []
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        current, negated = stack.pop()
        if isinstance(current, Term):
            if positive is None or positive != negated:
                found.append(current)
            continue
        flip = isinstance(current, Not)
        stack.extend((child, negated != flip) for child in reversed(_children(current)))
    return found


def _walk_clusters(node: Node) -> list[str]:
    found: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ClusterRef):
            found.append(current.name)
        stack.extend(reversed(_children(current)))
    return found


def _evaluate(
    node: Node, term_spans: Callable[[str], Sequence[Span]], cluster: ClusterLookup
) -> Outcome:
    if isinstance(node, Term):
        spans = term_spans(node.normalised)
        return bool(spans), spans
    if isinstance(node, ClusterRef):
        return cluster(node.name)
    if isinstance(node, Not):
        return not _evaluate(node.operand, term_spans, cluster)[0], ()
    if isinstance(node, And):
        spans_and: list[Span] = []
        for part in node.parts:
            ok, spans = _evaluate(part, term_spans, cluster)
            if not ok:
                return False, ()
            spans_and.extend(spans)
        return True, spans_and
    if isinstance(node, Or):
        held = False
        spans_or: list[Span] = []
        for part in node.parts:
            ok, spans = _evaluate(part, term_spans, cluster)
            if ok:
                held = True
                spans_or.extend(spans)
        return held, spans_or
    _, left = _evaluate(node.left, term_spans, cluster)
    _, right = _evaluate(node.right, term_spans, cluster)
    close = [
        *(a for a in left if any(gap(a, b) <= node.distance for b in right)),
        *(b for b in right if any(gap(a, b) <= node.distance for a in left)),
    ]
    return bool(close), close
