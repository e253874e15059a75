"""lme4's formula syntax, read as text: the rewrites formulae needs before it can parse a formula.

formulae (bambi's parser) knows ``(terms | g)`` but not lme4's ``(terms || g)``,
nesting ``(1 | g1/g2)`` inside a grouping term, nor ``cbind(successes, failures)``.
This module splits a formula into its outcome and its terms and rewrites those
the way lme4 reads them; :mod:`mixedrain.formula` then evaluates the result on
the data. Everything here works on strings; nothing here sees a DataFrame.

Examples
--------
>>> [block.text for block in rewrite_random("Days + (Days || Subject)")[1]]
['(1 | Subject)', '(0 + Days | Subject)']
>>> [block.grouping for block in expand_bar("1 | herd/period")]
['herd', 'herd:period']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import formulae
from formulae.terms import Call, Intercept, Variable

__all__ = [
    "Block", "describe", "expand_bar", "names_in", "split_outcome", "rewrite_random", "split_formula",
    "split_top", "unique_blocks", "unquote", "unquoted",
]

_PLAIN_NAME = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*")


@dataclass(frozen=True)
class Block:
    """One ``(lhs | grouping)`` term after the lme4 rewrites."""

    lhs: str
    grouping: str

    @property
    def text(self) -> str:
        return f"({self.lhs} | {self.grouping})"


def split_formula(formula: str) -> tuple[str, str]:
    """``"y ~ x + (1 | g)"`` -> ``("y", "x + (1 | g)")``."""
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string such as 'y ~ x + (1 | g)', not {type(formula).__name__}")
    sides = split_top(formula, "~")
    if len(sides) != 2 or not sides[0] or not sides[1]:
        raise ValueError(f"formula {formula!r} must have the outcome left of one '~' and the terms right of it")
    return sides[0], sides[1]


def split_top(text: str, separator: str) -> list[str]:
    """Split at ``separator`` outside parentheses and backticks, stripping the pieces."""
    pieces, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "`":
            quoted = not quoted
        elif quoted:
            continue
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            pieces.append(text[start:i].strip())
            start = i + 1
    if depth != 0 or quoted:
        raise ValueError(f"unbalanced parentheses or backticks in {text!r}")
    pieces.append(text[start:].strip())
    return pieces


def split_outcome(lhs: str, family: str) -> tuple[str, ...]:
    """The outcome's expressions: ``("y",)`` or ``("s", "f")`` for ``cbind(s, f)``."""
    match = re.fullmatch(r"cbind\s*\((.*)\)", lhs, flags=re.DOTALL)
    if match is None:
        return (lhs,)
    if family != "binomial":
        raise ValueError(f"outcome {lhs!r}: cbind(successes, failures) is a binomial outcome, not {family}")
    parts = split_top(match.group(1), ",")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"outcome {lhs!r}: cbind takes two arguments, successes and failures")
    return tuple(parts)


def rewrite_random(rhs: str) -> tuple[str, list[Block]]:
    """Split off the grouping terms, expanding ``||`` and ``/``: the fixed part's text and the blocks."""
    fixed, blocks = [], []
    for summand in split_top(rhs, "+"):
        inner = bar_content(summand)
        if inner is None:
            if "|" in unquoted(summand):
                raise ValueError(
                    f"unsupported term {summand!r}: write each grouping term as '+ (terms | group)' on its own"
                )
            fixed.append(summand)
        else:
            blocks.extend(expand_bar(inner))
    if not blocks:
        raise ValueError(
            f"no grouping term in {rhs!r}: a mixed model needs at least one, such as '(1 | group)' "
            "(for a model without group effects use an ordinary regression)"
        )
    return " + ".join(fixed) or "1", blocks


def unquote(name: str) -> str:
    """```log.radon``` -> ``log.radon``; anything else as it is."""
    return name[1:-1] if re.fullmatch(r"`[^`]*`", name) else name


def unquoted(text: str) -> str:
    """``text`` without its backticked names."""
    return re.sub(r"`[^`]*`", "", text)


def bar_content(summand: str) -> str | None:
    """The inside of ``(lhs | g)`` when the summand is one grouping term, else None."""
    if not (summand.startswith("(") and summand.endswith(")")):
        return None
    inner = summand[1:-1]
    try:
        pieces = split_top(inner, "|")
    except ValueError:
        return None  # "(a) + (b)": the outer parentheses do not match each other
    return inner if len(pieces) > 1 else None


def expand_bar(inner: str) -> list[Block]:
    """``"1 + x || g1/g2"`` -> the lme4 blocks it stands for."""
    pieces = split_top(inner, "|")
    if len(pieces) == 2:
        lhs, grouping, uncorrelated = pieces[0], pieces[1], False
    elif len(pieces) == 3 and pieces[1] == "":
        lhs, grouping, uncorrelated = pieces[0], pieces[2], True
    else:
        raise ValueError(f"unsupported term '({inner})': use (terms | group) or (terms || group)")
    if not lhs or not grouping:
        raise ValueError(f"unsupported term '({inner})': both sides of the bar are needed, e.g. (1 | group)")
    lhs_pieces = uncorrelated_pieces(lhs) if uncorrelated else [lhs]
    return [Block(piece, factor) for factor in nested_factors(grouping) for piece in lhs_pieces]


def nested_factors(grouping: str) -> list[str]:
    """``"g1/g2/g3"`` -> ``["g1", "g1:g2", "g1:g2:g3"]``; a plain factor or ``a:b`` as it is."""
    for operator in "+*-":
        if len(split_top(grouping, operator)) > 1:
            raise ValueError(
                f"unsupported grouping {grouping!r}: use a factor g, an interaction g1:g2 or nesting g1/g2"
            )
    parts = split_top(grouping, "/")
    if not all(parts):
        raise ValueError(f"unsupported grouping {grouping!r}")
    return [":".join(parts[: i + 1]) for i in range(len(parts))]


def uncorrelated_pieces(lhs: str) -> list[str]:
    """lme4's reading of ``(lhs || g)``: ``"1 + x"`` -> ``["1", "0 + x"]``."""
    description = describe(lhs)
    if description.group_terms:
        raise ValueError(f"unsupported term {lhs!r}: a grouping term inside a grouping term")
    pieces = []
    for term in description.common_terms:
        if isinstance(term, Intercept):
            pieces.append("1")
        else:
            pieces.append("0 + " + ":".join(render(component) for component in term.components))
    return pieces


def render(component: Variable | Call) -> str:
    """A term component written back as formula text."""
    name = component.name
    if isinstance(component, Variable) and not _PLAIN_NAME.fullmatch(name):
        return f"`{name}`"
    return name


def describe(text: str):
    """formulae's model description, with its parse errors named as ours."""
    try:
        return formulae.model_description(text)
    except Exception as error:  # formulae raises several private error types
        raise ValueError(f"unsupported formula syntax in {text!r}: {error}") from error


def unique_blocks(blocks: list[Block]) -> list[Block]:
    seen = set()
    for block in blocks:
        if block in seen:
            raise ValueError(f"grouping term {block.text} appears twice in the formula")
        seen.add(block)
    return blocks


def names_in(texts: list[str] | tuple[str, ...]) -> set[str]:
    """The variable names formulae reads in formula texts."""
    names = set()
    for text in texts:
        names |= describe(text).var_names
    names.discard("")  # formulae's name for a number in an expression such as log(y + 5)
    return names
