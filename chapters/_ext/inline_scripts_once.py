"""Write each inline ``<script>`` once per page (a Sphinx 7 bug, fixed upstream in Sphinx 8.2).

Extensions add inline scripts with ``app.add_js_file(None, body=...)``. When they do so after the
HTML builder has started (sphinx-thebe in ``env-before-read-docs``, sphinx-togglebutton in
``builder-inited``), Sphinx 7 keeps the script under the name ``None`` and adds it again under the
name ``''`` before writing, so every page carries it twice. For sphinx-thebe's
``const THEBE_JS_URL = ...`` that is a JavaScript error on every page ("Identifier 'THEBE_JS_URL'
has already been declared"). Jupyter Book 1 needs Sphinx 7, so this does what the upstream fix
(sphinx-doc/sphinx#13402) does: an inline script is registered under ``''`` from the start.
"""


def setup(app):
    add_js_file = app.add_js_file

    def add_js_file_once(filename, priority=500, loading_method=None, **kwargs):
        add_js_file(filename or "", priority, loading_method, **kwargs)

    app.add_js_file = add_js_file_once
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
