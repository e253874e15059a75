"""mixedrain: the helper package of the book *Mixed Models in Python*.

One module per step of the book's pipeline, each importing only from steps before it::

    simulate  ->  prepare  ->  models + fit  ->  forecast, truth, reml, pooling, diagnostics, checks  ->  plot

and, beside it, simulation-based calibration: ``ranks -> calibration_record -> calibrate -> calibrate_formula``.
"""

__version__ = "0.1.0"
