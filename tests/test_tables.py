import numpy as np
import pandas as pd

from mixedrain.tables import markdown_table


def test_rounds_flattens_two_level_names_and_dashes_missing_values():
    columns = pd.MultiIndex.from_tuples([("prior", "mean"), ("prior", "sd")])
    frame = pd.DataFrame([[1.0, np.nan], [2.345, 0.5]], index=pd.Index(["x", "y"], name="term"), columns=columns)
    assert markdown_table(frame, 1).splitlines() == [
        "| term | prior mean | prior sd |",
        "|---|---|---|",
        "| x | 1.0 | – |",
        "| y | 2.3 | 0.5 |",
    ]


def test_index_label_and_code_font():
    frame = pd.DataFrame({"gap": [0.25]}, index=["fixed[x]"])
    assert markdown_table(frame, 2, index_label="parameter", code_index=True).splitlines()[::2] == [
        "| parameter | gap |",
        "| `fixed[x]` | 0.25 |",
    ]


def test_dash_missing_shows_a_dash_keeps_whole_numbers_and_rounds_per_column():
    import pandas as pd

    from mixedrain.tables import dash_missing

    frame = pd.DataFrame({"a": [1.23456, float("nan")], "b": [2.5, 3.25], "count": [1, 2]})
    shown = dash_missing(frame, {"a": 1, "b": 2})
    assert shown["a"].tolist() == ["1.2", "–"]
    assert shown["b"].tolist() == ["2.50", "3.25"]  # every number of a column to the same digits
    assert shown["count"].tolist() == [1, 2] and frame["a"].isna().iloc[1]  # the input is left alone
