"""Train the MLP tutorial model data-parallel for a few steps; each rank writes its losses and
a checksum of its parameters after every step to <prefix>.rank<r>.json.

usage: train.py DATA DEVICE STEPS BUCKET_BYTES PREFIX   (alone, or under mpiexec -n K)
DATA: an .npz file of the digits' training images `x` and labels `y` (the test writes it once,
so that no rank pays for importing scikit-learn).
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "tutorials"))
import symbolic as S  # noqa: E402
import symbolic.distributed as D  # noqa: E402
from layers import sgd_updates  # noqa: E402
from train_mlp import build_model  # noqa: E402

GLOBAL_BATCH = 64

data_file, device, n_steps, bucket_bytes, prefix = sys.argv[1:]
n_steps, bucket_bytes = int(n_steps), int(bucket_bytes)
with np.load(data_file) as digits:
    x_all, y_all = digits["x"], digits["y"]
model = build_model((x_all.shape[1],), 10, seed=D.rank())  # different starts: broadcast fixes
D.broadcast_shared(model.params, root=0)

# A rank's share of the global mean: its rows' mean times its fraction of the global batch;
# summed over ranks this is the mean over the global batch plus the penalty, exactly.
share = S.scalar("share")
cost = model.cost * share
grads = D.allreduce(S.grad(cost, model.params), op="sum", bucket_bytes=bucket_bytes)
# The tutorial's rate (0.05) makes the last steps chaotic enough that float32 rounding (a mean
# over 32 rows, halved, is not bitwise a mean over 64) grows past 1e-5 in 50 steps; 0.02 not.
updates = sgd_updates(cost, model.params, 0.02, momentum=0.9, grads=grads)
loss = D.allreduce(cost, op="sum", bucket_bytes=bucket_bytes)
train = S.compile([model.x, model.y, share], loss, updates=updates, device=device)

order = np.random.default_rng(0).permutation(len(x_all))
steps = D.shard(len(x_all), GLOBAL_BATCH)
losses, checksums = [], []
for step in range(n_steps):
    first = (step % len(steps)) * GLOBAL_BATCH
    rows = order[steps[step % len(steps)]]
    global_rows = min(GLOBAL_BATCH, len(x_all) - first)
    losses.append(float(train(x_all[rows], y_all[rows], np.float32(len(rows) / global_rows))))
    digest = hashlib.sha1(b"".join(p.get_value().tobytes() for p in model.params))
    checksums.append(digest.hexdigest())
Path(f"{prefix}.rank{D.rank()}.json").write_text(
    json.dumps({"losses": losses, "checksums": checksums, "size": D.size()})
)
