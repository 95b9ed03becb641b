"""The Op base class: what every operation provides.

An op is a small frozen dataclass (its fields are its parameters, so equal ops compare equal and
can be merged). It answers three questions, all in one place:
- `infer(*inputs)`: the output types (dtype, static shape), raising on static mismatches;
- `perform(*arrays)`: the NumPy reference, the oracle of every test and the `numpy` device;
- `grad(inputs, outputs, output_grads)`: the input gradients as graphs (None: no gradient).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from symbolic.graph import Apply, TensorType, Variable, as_variable


@dataclass(frozen=True)
class Op:
    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    def make_node(self, *inputs) -> Apply:
        inputs = [as_variable(i) for i in inputs]
        return Apply(self, inputs, self.infer(*inputs))

    def __call__(self, *inputs):
        outputs = self.make_node(*inputs).outputs
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def infer(self, *inputs: Variable) -> list[TensorType]:
        raise NotImplementedError

    def perform(self, *arrays: np.ndarray):
        raise NotImplementedError(f"{self.name} has no NumPy reference implementation")

    def grad(
        self,
        inputs: Sequence[Variable],
        outputs: Sequence[Variable],
        output_grads: Sequence[Variable],
    ) -> list[Variable | None]:
        raise NotImplementedError(f"the op {self.name} has no gradient rule")

    def __str__(self) -> str:
        return self.name
