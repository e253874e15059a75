"""Tables a chapter glues as Markdown, so that a {table} directive numbers and captions them.

A DataFrame displayed as a cell's output cannot carry a numbered table caption;
glued Markdown inside ``:::{table}`` can. Chapters 3 and 8 used to define this
function each in a hidden cell (``tests/test_tables.py`` guards the one copy).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["dash_missing", "markdown_table"]


def markdown_table(frame: pd.DataFrame, digits: int, *, index_label: str | None = None, code_index: bool = False) -> str:
    """A Markdown table of ``frame``'s numbers, rounded to ``digits``; a missing value shows as a dash.

    Parameters
    ----------
    frame : pandas.DataFrame
        Numeric cells; two-level column names are joined with a space.
    digits : int
        Decimal places of every cell.
    index_label : str, optional
        Header of the index column (default: the index's name, or nothing).
    code_index : bool
        Set the index labels in code font (parameter names such as ``fixed[x]``).

    Examples
    --------
    >>> frame = pd.DataFrame({"mean": [1.23456, None]}, index=pd.Index(["a", "b"], name="parameter"))
    >>> print(markdown_table(frame, 2, code_index=True))
    | parameter | mean |
    |---|---|
    | `a` | 1.23 |
    | `b` | – |
    """
    names = [" ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in frame.columns]
    header = index_label if index_label is not None else (frame.index.name or "")
    lines = ["| " + " | ".join([header, *names]) + " |", "|---" * (len(names) + 1) + "|"]
    for label, values in zip(frame.index, frame.to_numpy()):
        cells = [_cell(v, digits) for v in values]
        shown = f"`{label}`" if code_index else str(label)
        lines.append("| " + " | ".join([shown, *cells]) + " |")
    return "\n".join(lines)


def dash_missing(frame: pd.DataFrame, digits: int | dict[str, int] = 3) -> pd.DataFrame:
    """``frame`` as text for display, each column to its digits, with a dash where a value is missing.

    Pandas would print NaN, and in a column of rounded numbers mixed with a dash
    it would drop trailing zeros (0.79 beside 0.904); here every number of a
    column shows the same digits. Whole-number columns stay whole numbers. For a table a cell displays, where
    an empty cell means "none" (no standard error printed, a fit not run), not
    a failed computation.

    Parameters
    ----------
    frame : pandas.DataFrame
    digits : int or dict of column name to int
        Decimal places, for every column or column by column (others: 3).

    Examples
    --------
    >>> frame = pd.DataFrame({"estimate": [0.64219, 1.5], "std_error": [0.2311, None], "n": [3, 4]})
    >>> dash_missing(frame)
      estimate std_error  n
    0    0.642     0.231  3
    1    1.500         –  4
    """
    shown = frame.copy().astype(object)
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        places = digits.get(column, 3) if isinstance(digits, dict) else digits
        shown[column] = [v if isinstance(v, str) else _cell(v, places) for v in values]
    return shown


def _cell(value, digits: int) -> str:
    """One number as a table shows it: ``digits`` decimals, a dash where it is missing."""
    return "–" if pd.isna(value) else f"{float(value):.{digits}f}"
