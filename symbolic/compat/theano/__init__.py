"""Theano 1.0's public API as thin mappings onto `symbolic`.

    import symbolic.compat.theano as theano              # or, for an unchanged script:
    symbolic.compat.theano.install(); import theano      # theano.tensor, … resolve here too

`theano.function` compiles with S.compile on `theano.config.device` (THEANO_FLAGS=device=cuda
picks "cuda"); the rest maps one to one (see docs/porting-theano.md for the table and what is
not supported: such names raise NotImplementedError naming the nearest equivalent).
"""

from __future__ import annotations

import sys

import symbolic as S
from symbolic.compat.theano import gradient, ifelse, printing, sandbox, tensor
from symbolic.compat.theano._unsupported import module_getattr, unsupported
from symbolic.compat.theano.compile import In, Param, function, shared
from symbolic.compat.theano.configparser import config
from symbolic.compat.theano.gradient import grad
from symbolic.graph import clone_replace

__all__ = [
    "In",
    "Param",
    "clone",
    "config",
    "function",
    "grad",
    "gradient",
    "ifelse",
    "install",
    "printing",
    "sandbox",
    "scan",
    "shared",
    "tensor",
]
__version__ = "1.0.0"
Variable = S.Variable
SharedVariable = S.SharedVariable
OrderedUpdates = dict  # scan's updates: an insertion-ordered dict already


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         truncate_gradient=-1, go_backwards=False, mode=None, name=None, profile=False,
         allow_gc=None, strict=False, return_list=False):  # fmt: skip
    """theano.scan → S.scan, the same arguments and meanings (taps other than -1 aside)."""
    return S.scan(fn, sequences, outputs_info, non_sequences, n_steps, truncate_gradient,
                  go_backwards, mode, name, profile, allow_gc, strict, return_list)  # fmt: skip


def clone(output, replace=None, strict=True, share_inputs=True, copy_inputs=None):
    """The output(s) with the variables in `replace` (a dict or pairs) substituted."""
    if not share_inputs:
        raise unsupported("theano.clone(share_inputs=False)", "symbolic.graph.clone_replace")
    pairs = dict(replace.items() if isinstance(replace, dict) else replace or ())
    outputs = list(output) if isinstance(output, (list, tuple)) else [output]
    cloned = clone_replace(outputs, pairs)
    return cloned if isinstance(output, (list, tuple)) else cloned[0]


# every module of the layer by the name `import theano…` finds it under
MODULES = (
    "",
    ".tensor",
    ".tensor.nnet",
    ".tensor.nnet.conv",
    ".tensor.signal",
    ".tensor.signal.pool",
    ".tensor.shared_randomstreams",
    ".sandbox",
    ".sandbox.rng_mrg",
    ".gradient",
    ".printing",
    ".ifelse",
    ".compile",
)


def install() -> None:
    """Make `import theano` (and theano.tensor, theano.tensor.nnet, theano.tensor.signal.pool,
    theano.sandbox.rng_mrg, …) resolve to this layer. Refuses if a real Theano is imported."""
    present = sys.modules.get("theano")
    if present is not None and present is not sys.modules[__name__]:
        raise RuntimeError(
            f"a Theano is already imported ({getattr(present, '__file__', present)}); call "
            "symbolic.compat.theano.install() before anything imports theano, or drop it"
        )
    for suffix in MODULES:
        __import__(__name__ + suffix)
        sys.modules["theano" + suffix] = sys.modules[__name__ + suffix]
    if not any(isinstance(f, UnsupportedModules) for f in sys.meta_path):
        sys.meta_path.append(UnsupportedModules())


class UnsupportedModules:
    """The last import finder: a `theano.…` module the layer does not have is an error naming
    it (NotImplementedError), not a ModuleNotFoundError."""

    def find_spec(self, name, path=None, target=None):
        if name.startswith("theano."):
            raise unsupported(f"the module {name}", "the modules in docs/porting-theano.md")
        return None


__getattr__ = module_getattr(
    "theano",
    {
        "pp": "S.debugprint",
        "Out": "S.compile's outputs",
        "gof": "symbolic.graph",
        "sparse": "none (dense tensors only)",
        "gpuarray": "theano.config.device = 'cuda'",
        "Mode": "S.compile's keywords (device=, optimize=)",
        "foldl": "S.scan",
        "foldr": "S.scan(go_backwards=True)",
        "map": "S.scan without outputs_info",
        "reduce": "S.scan",
    },
)
