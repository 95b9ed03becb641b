"""Loops: S.scan builds a Scan node whose body is an inner graph; its gradient is a Scan too.

- `build.py`: `scan()`, from a Python step function to a node (as Theano's scan);
- `op.py`: the `Scan` op: types, the loop, pickling;
- `parts.py`: the pieces of a loop and the graph queries loops need;
- `hoist.py`: work that does not depend on the step, moved out when the loop is built;
- `grad.py`: backpropagation through time; `residuals.py`: the forward values it reads;
- `shapes.py`: shapes recomputed from operands' shapes (for the backward step);
- `loop.py`: running the steps, stacking rows;
- `rewrite.py`: the optimizer's loop phase (merge, prune, optimize the inner graph);
- `pushout.py`: accumulations summed after the loop instead of step by step.
"""

from symbolic.scan.build import scan
from symbolic.scan.op import Scan

__all__ = ["Scan", "scan"]
