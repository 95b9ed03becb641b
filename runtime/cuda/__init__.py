"""The cuda device: generated CUDA kernels, cuBLAS and device-resident state (see device.py).

Nothing here imports PyCUDA at import time; runtime/cuda/driver.py does, on first use.
"""
