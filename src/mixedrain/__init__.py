"""mixedrain: the helper package of the book *Mixed Models in Python*.

One module per step of the book's pipeline::

    simulate  ->  prepare  ->  models + fit  ->  forecast, truth, reml, pooling, diagnostics, checks  ->  plot
"""

__version__ = "0.1.0"
