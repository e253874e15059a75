"""Offer the executed notebook as an ``.ipynb`` download on MyST notebook pages.

sphinx-book-theme only adds the ``.ipynb`` entry to its download menu for text
(MyST Markdown) notebooks when a hosted launch service (Binder, Colab, ...) is
configured.  This book is built and read offline, so we do the same copy here:
myst-nb writes each executed notebook to ``<output_folder>/<docname>.ipynb``
(``_build/jupyter_execute``); we copy it to ``_build/html/_sources/`` and set
``ipynb_source``, which the theme's download menu turns into a ``.ipynb`` link.
"""

import shutil
from pathlib import Path


def _add_ipynb_source(app, pagename, templatename, context, doctree):
    if doctree is None or app.builder.format != "html":
        return
    if "kernelspec" not in app.env.metadata.get(pagename, {}):
        return  # not a notebook page
    if not context.get("sourcename", "").endswith((".md", ".md.txt")):
        return  # real .ipynb sources are already downloadable as the source file
    executed = Path(app.env.mystnb_config.output_folder) / f"{pagename}.ipynb"
    if not executed.is_file():
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app):
    # sphinx-book-theme builds its header buttons at priority 501; run before it.
    app.connect("html-page-context", _add_ipynb_source, priority=500)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
