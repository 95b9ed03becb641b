"""`theano.config`: floatX and device, set from THEANO_FLAGS as Theano does.

floatX (default "float32") is the dtype the layer's constructors and random draws use when
none is given. device picks `S.compile`'s device for `theano.function`: Theano's "cpu" →
"cpu", "cuda", "cuda0", "gpu", "gpu1"… → "cuda"; symbolic's own "numpy" and "auto" are taken
as well. Flags about Theano's own machinery (optimizer, linker, cnmem, compiledir, openmp,
allow_gc, …) are read and ignored: they change no result here.
"""

from __future__ import annotations

import os

from symbolic.compat.theano._unsupported import unsupported

FLOATX = ("float32", "float64")
OWN_DEVICES = ("cpu", "cuda", "numpy", "auto")
SETTINGS = ("floatX", "device", "mode", "on_unused_input", "compute_test_value")


def symbolic_device(device: str) -> str:
    """S.compile's device for a Theano device name."""
    if device in OWN_DEVICES:
        return device
    if device.startswith(("cuda", "gpu")):
        return "cuda"
    raise unsupported(f"theano.config.device = {device!r}", "'cpu', 'cuda' or 'numpy'")


class Config:
    """Theano's configuration object, the few settings that mean something here."""

    def __init__(self, flags: str = ""):
        self.floatX = "float32"
        self.device = "cpu"
        self.mode = None
        self.on_unused_input = "raise"
        self.compute_test_value = "off"
        self.ignored = {}  # flags read from THEANO_FLAGS that change nothing here
        for item in filter(None, (f.strip() for f in flags.split(","))):
            key, _, value = item.partition("=")
            if key in SETTINGS:
                setattr(self, key, value)
            else:
                self.ignored[key] = value

    def __setattr__(self, key: str, value) -> None:
        if key == "floatX" and value not in FLOATX:
            raise unsupported(f"theano.config.floatX = {value!r}", "'float32' or 'float64'")
        if key == "device":
            symbolic_device(value)
        if key == "compute_test_value" and value != "off":
            raise unsupported("theano.config.compute_test_value", "run the function on data")
        if key == "mode" and value == "":
            value = None
        object.__setattr__(self, key, value)

    def __getattr__(self, key: str):
        if key.startswith("__"):  # Python's own probes (copy, pickle)
            raise AttributeError(key)
        raise unsupported(f"theano.config.{key}", f"one of {SETTINGS}")

    @property
    def compile_device(self) -> str:
        return symbolic_device(self.device)


config = Config(os.environ.get("THEANO_FLAGS", ""))
