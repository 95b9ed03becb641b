"""Run another program of this folder with its cuda functions on the host emulation
(tests/cuda_host.py) and their all-reduces through a stand-in libnccl that reduces over MPI
(tests/runtime/distributed/nccl_stand_in.py): the NCCL path of the cuda device, rank against
rank, without GPUs.

usage: on_emulated_gpus.py PROGRAM ARGUMENTS...   (under mpiexec -n K)
"""

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[2])]  # nccl_stand_in; cuda_host

from cuda_host import HostDriver  # noqa: E402
from mpi4py import MPI  # noqa: E402
from nccl_stand_in import FakeNccl  # noqa: E402

from runtime.cuda.collectives import use_nccl  # noqa: E402
from runtime.cuda.device import use_driver  # noqa: E402

program, *arguments = sys.argv[1:]
sys.argv = [str(HERE / program), *arguments]
library = FakeNccl(mpi_comm=MPI.COMM_WORLD.Dup())
with use_driver(HostDriver()), use_nccl(library):
    runpy.run_path(sys.argv[0], run_name="__main__")
assert any(name == "ncclAllReduce" for name, _ in library.calls), "NCCL was not used"
