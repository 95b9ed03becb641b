"""One rank misbehaves while the others run a collective; every rank must end, non-zero,
within the timeout, with an error naming the rank. Run under mpiexec -n K.

usage: faults.py MODE   (MODE: raise, kill, sleep, shapes, order)
"""

import os
import signal
import sys
import time

import numpy as np

import symbolic as S
import symbolic.distributed as D

mode, me = sys.argv[1], D.rank()
D.set_timeout(3)
x = S.vector("x")
W = S.shared(np.ones(4, np.float32), name="W")
cost = (x * W).sum()
train = S.compile([x], D.allreduce(cost), updates=[(W, W - D.allreduce(S.grad(cost, W)))])
other = S.compile([x], D.allreduce(x * 3, "max"))
if mode in ("raise", "kill", "sleep"):
    train(np.ones(4, np.float32))  # every rank runs one step together first
before = W.get_value()

# The signature check compares each function's collectives on its first call.
if mode == "shapes":  # rank 1 reduces a longer vector than the others
    other(np.ones(5 if me == 1 else 4, np.float32))
elif mode == "order":  # rank 1 calls the functions in the other order
    other(np.ones(4, np.float32)) if me == 1 else train(np.ones(4, np.float32))
elif me == 1 and mode == "raise":
    train(np.ones((2, 2), np.float32))  # a 2-d input: TypeError naming the input
elif me == 1 and mode == "kill":
    time.sleep(1)  # the others are waiting in the next step's all-reduce by then
    os.kill(os.getpid(), signal.SIGKILL)
elif me == 1 and mode == "sleep":
    time.sleep(60)  # neither fails nor answers
try:
    train(np.ones(4, np.float32))
finally:  # a failed call changes no shared variable
    assert np.array_equal(W.get_value(), before), "W changed in a failed call"
print(f"rank {me} finished", flush=True)
