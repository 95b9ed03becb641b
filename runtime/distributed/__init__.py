"""Carrying out collectives: MPI for host buffers (mpi.py), the bucketed schedule (buckets.py),
NCCL for device buffers (nccl.py). mpi4py and libnccl are imported only when used."""
