"""Number the figures, tables and exercises of each unnumbered page from 1.

Sphinx numbers an enumerable node by its chapter's section number (``Exercise 5.2``). Pages outside
the numbered parts (getting started, the appendices) have no section number, and Sphinx then keeps
one count for all of them across the book, so the appendices' exercises went on from getting
started's: Exercise 4 to 8. This restarts the count on each such page, in the order Sphinx found
the nodes.
"""


def restart_counts_on_unnumbered_pages(app, env):
    changed = []
    for docname, by_type in env.toc_fignumbers.items():
        if env.toc_secnumbers.get(docname):
            continue  # a numbered chapter: Sphinx's numbers stand
        for numbers in by_type.values():
            in_order = sorted(numbers, key=numbers.get)
            renumbered = {target: (position,) for position, target in enumerate(in_order, start=1)}
            if renumbered != numbers:
                numbers.update(renumbered)
                changed.append(docname)
    return changed


def setup(app):
    # After Sphinx's own TocTreeCollector (priority 500) has assigned the numbers.
    app.connect("env-get-updated", restart_counts_on_unnumbered_pages, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
