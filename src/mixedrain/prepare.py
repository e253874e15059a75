"""Turn a rainfall DataFrame into validated data for the Stan programs.

Every check runs here, before Stan is called, so that bad input gets an error
that names the column and rows at fault instead of a Stan stack trace.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: How many offending row labels an error message lists before "...".
_MAX_ROWS_SHOWN = 10


@dataclass(frozen=True)
class PreparedData:
    """Data ready for Stan, with what is needed to map results back.

    Attributes
    ----------
    stan_data : dict
        ``N``, ``J``, ``group`` (1-based codes), ``x`` (the predictor) and ``y``.
    groups : tuple of str
        ``groups[k - 1]`` is the label of group code ``k``.
    first_year : int
        The year whose year index is 1.
    centre : float
        Subtracted from the year index to give the predictor ``x``.
    frame : pandas.DataFrame
        The validated rows with ``group_code`` and ``x`` columns added.
    group_column, time_column, outcome_column : str
        The column names the data came with.
    """

    stan_data: dict
    groups: tuple[str, ...]
    first_year: int
    centre: float
    frame: pd.DataFrame = field(repr=False)
    group_column: str = "state"
    time_column: str = "year"
    outcome_column: str = "rainfall"

    def predictor(self, years: Iterable[int] | np.ndarray) -> np.ndarray:
        """The predictor ``x`` the model uses for calendar ``years``.

        Examples
        --------
        >>> from mixedrain.simulate import simulate_rainfall
        >>> prepare_data(simulate_rainfall()).predictor([2010, 2025]).tolist()
        [1.0, 16.0]
        """
        return np.asarray(list(years) if not isinstance(years, np.ndarray) else years, dtype=float) - self.first_year + 1 - self.centre


def prepare_data(
    df: pd.DataFrame,
    *,
    group: str = "state",
    time: str = "year",
    outcome: str = "rainfall",
    centre: bool | float = False,
    first_year: int | None = None,
) -> PreparedData:
    """Validate a long DataFrame and turn it into Stan data.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per observation.
    group : str
        Column of group labels (the random effects' grouping), e.g. state.
    time : str
        Column of calendar years (whole numbers).
    outcome : str
        Column of the numeric outcome, e.g. rainfall.
    centre : bool or float
        ``False`` uses the year index (1 for ``first_year``) as the predictor;
        ``True`` subtracts the mean year index of the data; a number is
        subtracted as given.
    first_year : int, optional
        The year given index 1. Defaults to the earliest year in ``df``; pass
        it to keep the same predictor scale across subsets of the data.

    Returns
    -------
    PreparedData

    Raises
    ------
    TypeError
        If ``df`` is not a DataFrame or a column has the wrong type.
    ValueError
        If a column is missing, a value is missing or not finite, a year is
        not a whole number, there are fewer than two groups, or a group has
        fewer than two observations.

    Examples
    --------
    >>> from mixedrain.simulate import simulate_rainfall
    >>> prepared = prepare_data(simulate_rainfall())
    >>> prepared.stan_data["N"], prepared.stan_data["J"], prepared.groups[:2]
    (510, 51, ('AL', 'AK'))
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in (group, time, outcome) if c not in df.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; the data has columns {list(df.columns)}")
    if len(df) == 0:
        raise ValueError("the data has no rows")

    labels = df[group]
    _reject_rows(labels.isna(), f"column {group!r} has missing group labels")
    for column in (time, outcome):
        _check_numeric(df, column)
    years = df[time].astype(float)
    _reject_rows(~np.isfinite(years), f"column {time!r} has missing or non-finite values")
    _reject_rows(years != np.round(years), f"column {time!r} must hold whole-number years")
    y = df[outcome].astype(float)
    _reject_rows(~np.isfinite(y), f"column {outcome!r} has missing or non-finite values (NaN or infinity)")

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

    if first_year is None:
        first_year = int(years.min())
    elif not float(first_year).is_integer():
        raise ValueError(f"first_year must be a whole number, got {first_year!r}")
    year_index = years - int(first_year) + 1
    if centre is True:
        centre_value = float(year_index.mean())
    elif centre is False:
        centre_value = 0.0
    elif isinstance(centre, (int, float, np.number)) and np.isfinite(centre):
        centre_value = float(centre)
    else:
        raise TypeError(f"centre must be True, False or a finite number, got {centre!r}")

    code_of = {label: code for code, label in enumerate(groups, start=1)}
    frame = df.copy()
    frame["group_code"] = labels.map(code_of).astype(int)
    frame["x"] = year_index - centre_value
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
        first_year=int(first_year),
        centre=centre_value,
        frame=frame,
        group_column=group,
        time_column=time,
        outcome_column=outcome,
    )


def _check_numeric(df: pd.DataFrame, column: str) -> None:
    series = df[column]
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
        example = f"; e.g. row {bad.index[0]!r} holds {bad.iloc[0]!r}" if len(bad) else ""
        raise TypeError(f"column {column!r} must be numeric, got dtype {series.dtype}{example}")


def _reject_rows(bad: pd.Series, message: str) -> None:
    if bad.any():
        rows = list(bad.index[bad.to_numpy()])
        shown = ", ".join(repr(r) for r in rows[:_MAX_ROWS_SHOWN]) + (", ..." if len(rows) > _MAX_ROWS_SHOWN else "")
        raise ValueError(f"{message}: {len(rows)} row(s) [{shown}]")
