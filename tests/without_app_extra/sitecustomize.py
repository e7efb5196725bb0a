"""Makes this interpreter look like one without kamabm's ``app`` extra (solara and its widgets).

With this folder first on ``PYTHONPATH`` (inherited by the subprocesses the tests start),
``import solara`` fails and ``importlib.util.find_spec("solara")`` is ``None``, as in a
venv made without the extra; the app tests then skip, each saying why::

    PYTHONPATH=tests/without_app_extra .venv/bin/python -m pytest tests/test_app.py -rs
"""

import importlib.abc
import importlib.util
import sys

HIDDEN = {"solara", "ipyvuetify", "ipyvue", "reacton"}


class _Hidden(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by {__file__})",
                                      name=name)
        return None


sys.meta_path.insert(0, _Hidden())
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: (
    None if name.split(".")[0] in HIDDEN else _find_spec(name, package))
