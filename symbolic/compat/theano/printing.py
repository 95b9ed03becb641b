"""theano.printing: debugprint → S.debugprint, pydotprint → S.draw."""

from __future__ import annotations

import symbolic as S
from symbolic.compat.theano._unsupported import module_getattr


def debugprint(obj, depth=-1, print_type=False, file=None, ids="CHAR", stop_on_name=False,
               done=None, print_storage=False, print_clients=False, used_ids=None):  # fmt: skip
    """Print the graph of a variable, list or function (file="str": return the text)."""
    return S.debugprint(obj, file=file)


def pydotprint(fct, outfile=None, compact=True, format="png", **kwargs):
    """A picture of the graph → S.draw(fct, outfile); Theano's default file name."""
    return S.draw(fct, outfile or f"graph.{format}")


__getattr__ = module_getattr("theano.printing", {"pp": "S.debugprint"})
