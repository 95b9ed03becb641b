"""The kernel records users see (`f.kernels`), shared by every backend: each backend's
subclass says how its source is rendered (runtime/cpu_backend.CKernel, runtime/cuda/function
.CudaKernel)."""

from __future__ import annotations


class Kernel:
    """A generated kernel as users see it: `f.kernels`. Its source is rendered when first read:
    a function whose library comes from the cache renders no source (nor imports sympy)
    otherwise."""

    __slots__ = ("name", "target", "description", "_source")

    def __init__(self, name: str, target: str, description):
        self.name, self.target, self.description, self._source = name, target, description, None

    @property
    def source(self) -> str:
        if self._source is None:
            self._source = self.render()
        return self._source

    def render(self) -> str:
        """The kernel's source, in its backend's language."""
        raise NotImplementedError(f"{type(self).__name__} does not say how to render its source")

    def __repr__(self) -> str:
        return f"<{self.target} kernel {self.name}>"
