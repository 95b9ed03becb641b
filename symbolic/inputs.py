"""`S.In`: an input of `compile` with a default value and a keyword name (Theano's `In`)."""

from __future__ import annotations

from symbolic.graph import Variable


class In:
    """An entry of `S.compile`'s inputs: `S.In(corruption, value=0.2, name="corruption")`.

    Parameters
    ----------
    variable : the symbolic input.
    value : its default: the function may be called without this argument (None: required).
    name : the keyword the argument may be passed by (default: the variable's name).
    allow_downcast : True lets arrays of a wider dtype into this input (cast, as
        compile's `allow_input_downcast` does for every input); None: as compile says.
    """

    __slots__ = ("variable", "value", "name", "allow_downcast")

    def __init__(
        self,
        variable: Variable,
        value=None,
        name: str | None = None,
        allow_downcast: bool | None = None,
    ):
        if not isinstance(variable, Variable):
            raise TypeError(f"S.In takes a symbolic input, got {variable!r}")
        self.variable = variable
        self.value = value
        self.name = name if name is not None else variable.name
        self.allow_downcast = allow_downcast

    def __repr__(self) -> str:
        default = "" if self.value is None else f", value={self.value!r}"
        return f"In({self.variable!r}{default})"


def as_in(entry, allow_downcast: bool | None) -> In:
    """An entry of compile's inputs as an `In` (a bare variable: required, named by its
    name), with compile's `allow_input_downcast` where the entry says nothing."""
    spec = entry if isinstance(entry, In) else In(entry) if isinstance(entry, Variable) else None
    if spec is None:
        return entry  # not a variable: compile's input check names it
    if spec.allow_downcast is None and allow_downcast is not None:
        spec = In(spec.variable, spec.value, spec.name, allow_downcast)
    return spec
