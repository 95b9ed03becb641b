"""How the layer says no: NotImplementedError naming the Theano name and what to use instead."""

from __future__ import annotations


def unsupported(name: str, instead: str) -> NotImplementedError:
    """The error for a Theano feature the layer does not map."""
    return NotImplementedError(
        f"{name} is not supported by symbolic's Theano layer; nearest equivalent: {instead} "
        "(see docs/porting-theano.md)"
    )


def module_getattr(module: str, nearest: dict):
    """A module `__getattr__`: names that Theano has and the layer lacks raise
    NotImplementedError naming the nearest equivalent (`nearest` maps some names to it)."""

    def __getattr__(attribute: str):
        if attribute.startswith("__"):  # Python's own probes (__path__, __file__, …)
            raise AttributeError(attribute)
        raise unsupported(f"{module}.{attribute}", nearest.get(attribute, "none in symbolic"))

    return __getattr__


def reject(name: str, instead: str, **given) -> None:
    """Raise for each keyword given with a value other than Theano's default: given maps the
    keyword to (value, default)."""
    for keyword, (value, default) in given.items():
        if value != default:
            raise unsupported(f"{name}({keyword}={value!r})", instead)
