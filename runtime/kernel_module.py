"""The generated source of a function as users read it: `f.kernels` and `f.source`.

A function's kernels are compiled as one translation unit (C) or one file for nvcc (CUDA):
the prelude, then each distinct kernel once, under the first node's name, after its note
(symbolic/codegen/notes.py). `KernelModule.source` is that text byte for byte; it is rendered
when first read, so a function whose library comes from the cache renders nothing otherwise.
"""

from __future__ import annotations

from symbolic.codegen.notes import kernel_notes, render_note
from symbolic.printing import node_labels


class Kernel:
    """A generated kernel as users see it (`f.kernels`): `.name`, `.target` ("c" or "cuda"),
    `.description`, `.node` (the graph node it computes) and `.source`, the kernel alone after
    its note. Rendered when first read."""

    __slots__ = ("name", "target", "description", "node", "module", "_source")

    def __init__(self, name: str, description, node, module: KernelModule):
        self.name, self.description, self.node, self.module = name, description, node, module
        self.target = module.target
        self._source = None

    @property
    def source(self) -> str:
        if self._source is None:
            note = render_note(self.name, [self.node], self.module.ids)
            self._source = note + self.module.render_kernel(self.description, self.name)
        return self._source

    def __repr__(self) -> str:
        return f"<{self.target} kernel {self.name}>"


class KernelModule:
    """The kernels of `described` ((name, node, description) triples of the function's graph
    `fgraph`) as one source for `target` ("c" or "cuda")."""

    def __init__(self, target: str, described: list, fgraph, fast_math: bool = False):
        self.target, self.described, self.fgraph = target, described, fgraph
        self.fast_math = fast_math
        self.symbols: dict = {}  # description → the name of the function computing it
        for name, _, description in described:
            self.symbols.setdefault(description, name)
        self.named = [(name, description) for description, name in self.symbols.items()]
        self.kernels = [Kernel(name, d, node, self) for name, node, d in described]
        self._ids = self._source = None

    @property
    def ids(self) -> dict:
        """{id(variable): debugprint id} of the function's graph, as `S.debugprint(f)`."""
        if self._ids is None:
            self._ids = node_labels(list(self.fgraph.outputs))
        return self._ids

    def notes(self) -> dict[str, str]:
        """{function name: the note it opens with}."""
        return kernel_notes(self.described, self.ids)

    @property
    def source(self) -> str:
        """The whole source the compiler builds: prelude, every kernel with its note."""
        if self._source is None:
            self._source = self.render()
        return self._source

    def render(self) -> str:
        if self.target == "c":
            from symbolic.codegen.c import render_module

            return render_module(self.named, self.notes())
        from symbolic.codegen.cuda import render_module

        return render_module(self.named, self.fast_math, self.notes())

    def render_prelude(self) -> str:
        """The includes and helpers every kernel of the module needs."""
        if self.target == "c":
            from symbolic.codegen.c import C

            return C.render_prelude()
        from symbolic.codegen.cuda import renderer

        return renderer(self.fast_math).render_prelude()

    def render_kernel(self, description, name: str) -> str:
        """The kernel function alone, without prelude or note."""
        if self.target == "c":
            from symbolic.codegen.c import render_kernel

            return render_kernel(description, name)
        from symbolic.codegen.cuda import render_kernel

        return render_kernel(description, name, self.fast_math)
