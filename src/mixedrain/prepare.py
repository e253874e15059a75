"""Turn a rainfall DataFrame into validated data for the Stan programs.

Every check runs here, before Stan is called, so that bad input gets an error
that names the column and rows at fault instead of a Stan stack trace.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

__all__ = ["PreparedData", "prepare_data", "resolve_column_roles"]

#: How many offending row labels an error message lists before "...".
_MAX_ROWS_SHOWN = 10

#: Largest magnitude accepted in the outcome and predictor columns. The Stan programs square them and
#: add the squares over all rows (``sum_yy``, ``sum_xx``), and the data-scaled priors are multiples of
#: their standard deviations, which square them too; float64 overflows at 1.8e308. Below 1e100 a square
#: summed over any realistic number of rows, and the sampler's arithmetic on it, stays finite with room to
#: spare, while no measurement in any sensible unit comes near it: a larger value is a data error or a
#: unit that wants rescaling.
MAX_MAGNITUDE = 1e100


class DuplicateRowsWarning(UserWarning):
    """Some rows repeat another row exactly: the model would count one observation twice."""


@dataclass(frozen=True)
class PreparedData:
    """Data ready for Stan, with what is needed to map results back.

    Attributes
    ----------
    stan_data : dict
        ``N``, ``J``, ``group`` (1-based codes), ``x`` (the predictor) and ``y``.
    groups : tuple of str
        ``groups[k - 1]`` is the label of group code ``k``.
    x_origin : float
        The predictor is ``x = value - x_origin``, where ``value`` is the
        predictor column's value.
    centre : float
        What was subtracted from the year index (or the predictor) to centre it.
    frame : pandas.DataFrame
        The validated rows with ``group_code`` and ``x`` columns added.
    group_column, predictor_column, outcome_column : str
        The column names the data came with.
    first_year : int or None
        For a year column turned into a year index, the year whose index is 1;
        ``None`` for a predictor used as it stands.
    """

    stan_data: dict
    groups: tuple[str, ...]
    x_origin: float
    centre: float
    frame: pd.DataFrame = field(repr=False)
    group_column: str = "state"
    predictor_column: str = "year"
    outcome_column: str = "rainfall"
    first_year: int | None = None

    def to_x(self, values: Iterable[float] | np.ndarray) -> np.ndarray:
        """The ``x`` the model uses for values of the predictor column (e.g. years).

        Examples
        --------
        >>> from mixedrain.simulate import simulate_rainfall
        >>> prepare_data(simulate_rainfall()).to_x([2010, 2025]).tolist()
        [1.0, 16.0]
        """
        return np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float) - self.x_origin

    @property
    def column_roles(self) -> dict[str, str]:
        """Which column plays each role: ``{"group": ..., "predictor": ..., "outcome": ...}``.

        The keys are those :func:`mixedrain.fit.fit_model` records in a fit's
        ``attrs``; tables made from the data carry them in their ``attrs``.
        """
        return {role: getattr(self, name) for role, name in _ROLE_FIELDS.items()}


#: The roles a column can play, and the PreparedData field that names the column playing each.
_ROLE_FIELDS = {"group": "group_column", "predictor": "predictor_column", "outcome": "outcome_column"}


def resolve_column_roles(
    attrs: Mapping | None = None, *, group: str | None = None, predictor: str | None = None, outcome: str | None = None
) -> dict[str, str]:
    """The columns that play the group, predictor and outcome roles.

    Each is the name given, else the one recorded in ``attrs`` (a fit's
    ``InferenceData.attrs``, or the ``attrs`` of a table made from it), else
    :class:`PreparedData`'s default (the book's rainfall data: ``state``,
    ``year``, ``rainfall``).

    Examples
    --------
    >>> resolve_column_roles({"group": "Subject", "predictor": "Days"}, outcome="Reaction")
    {'group': 'Subject', 'predictor': 'Days', 'outcome': 'Reaction'}
    >>> resolve_column_roles()
    {'group': 'state', 'predictor': 'year', 'outcome': 'rainfall'}
    """
    defaults = {item.name: item.default for item in fields(PreparedData)}
    given = {"group": group, "predictor": predictor, "outcome": outcome}
    recorded = attrs or {}
    return {role: given[role] or recorded.get(role) or defaults[name] for role, name in _ROLE_FIELDS.items()}


def prepare_data(
    df: pd.DataFrame,
    *,
    group: str = "state",
    time: str = "year",
    outcome: str = "rainfall",
    predictor: str | None = None,
    centre: bool | float = False,
    first_year: int | None = None,
) -> PreparedData:
    """Validate a long DataFrame and turn it into Stan data.

    The predictor ``x`` is either a year index made from a column of calendar
    years (``time``, the default: 1 for ``first_year``), or any numeric column
    used as it stands (``predictor``, e.g. sleepstudy's ``Days``, where 0 is
    the first day, as lme4 reads it).

    Centring moves where the intercept is read. The correlated model
    (``(x | g)``) is unchanged by that; the uncorrelated one (``(x || g)``)
    is not: if a group's intercept and slope are independent at ``x = 0``,
    its intercept at ``x = c`` is ``alpha + beta * c``, correlated with the
    slope, so after centring the uncorrelated model is misspecified, and
    :func:`mixedrain.fit.fit_model` warns.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per observation.
    group : str
        Column of group labels (the random effects' grouping), e.g. state.
    time : str
        Column of calendar years (whole numbers), made into a year index.
        Not used when ``predictor`` is given.
    outcome : str
        Column of the numeric outcome, e.g. rainfall.
    predictor : str, optional
        Column of a numeric predictor used as it stands, instead of ``time``.
    centre : bool or float
        ``False`` keeps the predictor's origin; ``True`` subtracts the
        predictor's mean over the data; a number is subtracted as given.
    first_year : int, optional
        With ``time``: the year given index 1. Defaults to the earliest year
        in ``df``; pass it to keep the same predictor scale across subsets of
        the data.

    Returns
    -------
    PreparedData

    Raises
    ------
    TypeError
        If ``df`` is not a DataFrame, a column has the wrong type, or
        ``centre`` is not True, False or a number.
    ValueError
        If a column is missing, a value is missing or not finite, an outcome
        or predictor value is larger in magnitude than :data:`MAX_MAGNITUDE`,
        a year is not a whole number, there are fewer than two groups, a group
        has fewer than two observations, or the predictor takes a single value.

    Warns
    -----
    DuplicateRowsWarning
        If a row repeats an earlier row in every column: usually a row
        appended twice, which the model would count as two observations.

    Examples
    --------
    >>> from mixedrain.simulate import simulate_rainfall
    >>> prepared = prepare_data(simulate_rainfall())
    >>> prepared.stan_data["N"], prepared.stan_data["J"], prepared.groups[:2]
    (510, 51, ('AL', 'AK'))
    >>> sleep = pd.DataFrame({"Subject": [1, 1, 2, 2], "Days": [0, 1, 0, 1], "Reaction": [250.0, 260, 240, 255]})
    >>> prepare_data(sleep, group="Subject", predictor="Days", outcome="Reaction").stan_data["x"]
    [0.0, 1.0, 0.0, 1.0]
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if predictor is not None and not isinstance(predictor, str):
        raise TypeError(f"predictor must be a column name, got {predictor!r}")
    predictor_column = time if predictor is None else predictor
    missing = [c for c in (group, predictor_column, outcome) if c not in df.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; the data has columns {list(df.columns)}")
    if len(df) == 0:
        raise ValueError("the data has no rows")

    labels = df[group]
    _reject_rows(labels.isna(), f"column {group!r} has missing group labels")
    for column in (predictor_column, outcome):
        _check_numeric(df, column)
    values = df[predictor_column].astype(float)
    _reject_rows(~np.isfinite(values), f"column {predictor_column!r} has missing or non-finite values")
    if predictor is None:
        _reject_rows(values != np.round(values), f"column {time!r} must hold whole-number years")
    y = df[outcome].astype(float)
    _reject_rows(~np.isfinite(y), f"column {outcome!r} has missing or non-finite values (NaN or infinity)")
    for column, column_values in ((outcome, y), (predictor_column, values)):
        _reject_rows(
            column_values.abs() > MAX_MAGNITUDE,
            f"column {column!r} has values beyond +-{MAX_MAGNITUDE:g}, where the data-scaled priors and the "
            "programs' sums of squares overflow; check them for errors, or rescale the column (e.g. divide "
            "it by a power of ten) before fitting",
        )

    groups = tuple(pd.unique(labels))
    if len(groups) < 2:
        raise ValueError(
            f"column {group!r} has {len(groups)} group ({groups[0]!r}); a mixed model needs at least 2 groups "
            "to estimate how groups vary"
        )
    sizes = labels.value_counts(sort=False)
    too_small = sizes[sizes < 2]
    if len(too_small):
        listed = ", ".join(f"{label!r} ({n} row)" for label, n in too_small.items())
        raise ValueError(f"column {group!r}: each group needs at least 2 observations to inform its slope; {listed}")
    if values.nunique() < 2:
        raise ValueError(f"column {predictor_column!r} takes a single value ({values.iloc[0]:g}), so no slope can be estimated")
    _warn_about_duplicates(df)

    if predictor is not None:
        if first_year is not None:
            raise ValueError("first_year applies to a year column (time=...), not to predictor=...")
        origin = 0.0
    elif first_year is None:
        first_year = int(values.min())
        origin = first_year - 1.0
    elif not float(first_year).is_integer():
        raise ValueError(f"first_year must be a whole number, got {first_year!r}")
    else:
        first_year = int(first_year)
        origin = first_year - 1.0
    if centre is True:
        centre_value = float((values - origin).mean())
    elif centre is False:
        centre_value = 0.0
    elif isinstance(centre, (int, float, np.number)) and not isinstance(centre, bool) and np.isfinite(centre):
        centre_value = float(centre)
    else:
        raise TypeError(f"centre must be True, False or a finite number, got {centre!r}")

    code_of = {label: code for code, label in enumerate(groups, start=1)}
    frame = df.copy()
    frame["group_code"] = labels.map(code_of).astype(int)
    frame["x"] = values - origin - centre_value
    stan_data = {
        "N": len(frame),
        "J": len(groups),
        "group": frame["group_code"].tolist(),
        "x": frame["x"].tolist(),
        "y": y.tolist(),
    }
    return PreparedData(
        stan_data=stan_data,
        groups=groups,
        x_origin=origin + centre_value,
        centre=centre_value,
        frame=frame,
        group_column=group,
        predictor_column=predictor_column,
        outcome_column=outcome,
        first_year=None if predictor is not None else int(first_year),
    )


def _check_numeric(df: pd.DataFrame, column: str) -> None:
    series = df[column]
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
        example = f"; e.g. row {bad.index[0]!r} holds {bad.iloc[0]!r}" if len(bad) else ""
        raise TypeError(f"column {column!r} must be numeric, got dtype {series.dtype}{example}")


def _warn_about_duplicates(df: pd.DataFrame) -> None:
    repeats = df.duplicated(keep="first").to_numpy()
    if not repeats.any():
        return
    # Each repeated row beside the first row it repeats, by position, so any index (even one with
    # repeated labels) can be reported.
    key = df.groupby(list(df.columns), sort=False, dropna=False).ngroup().to_numpy()
    first_position = {}
    for position, code in enumerate(key):
        first_position.setdefault(code, position)
    labels = df.index
    pairs = [f"{labels[p]!r} repeats {labels[first_position[key[p]]]!r}" for p in np.flatnonzero(repeats)]
    shown = ", ".join(pairs[:_MAX_ROWS_SHOWN]) + (", ..." if len(pairs) > _MAX_ROWS_SHOWN else "")
    warnings.warn(
        f"{len(pairs)} row(s) repeat an earlier row in every column [{shown}]; the model counts each copy as "
        "another observation. Drop them (df.drop_duplicates()) unless the repeats are real.",
        DuplicateRowsWarning,
        stacklevel=3,
    )


def _reject_rows(bad: pd.Series, message: str) -> None:
    if bad.any():
        rows = list(bad.index[bad.to_numpy()])
        shown = ", ".join(repr(r) for r in rows[:_MAX_ROWS_SHOWN]) + (", ..." if len(rows) > _MAX_ROWS_SHOWN else "")
        raise ValueError(f"{message}: {len(rows)} row(s) [{shown}]")
