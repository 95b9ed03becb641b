"""Arrays in GPU memory: a pointer, a shape, byte strides (NumPy's convention) and a dtype.

A `DeviceArray` is what the cuda device computes with, keeps shared variables in, and returns
on request. Views (reshape, transpose, broadcasting, basic indexing) share the memory and keep
its owner alive. Any object with `__cuda_array_interface__` (CuPy, PyTorch, Numba) is read
through `from_interface` without a copy, and a DeviceArray exports the same interface.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from runtime.layout import contiguous_strides


class DeviceArray:
    """An n-d array on the GPU. `get()` copies it to a new NumPy array.

    Made by the runtime (Device.empty, views, `from_interface`), which passes the shape and
    strides as tuples of ints and the dtype as a NumPy dtype: a call makes several, so the
    constructor converts nothing.
    """

    __slots__ = ("ptr", "shape", "strides", "dtype", "owner", "device", "fresh", "__weakref__")

    def __init__(self, ptr: int, shape: tuple, dtype, strides: tuple, owner, device, fresh=False):
        self.ptr, self.shape, self.dtype, self.strides = ptr, shape, dtype, strides
        self.owner, self.device = owner, device  # what frees the memory; who copies it
        self.fresh = fresh  # exactly a buffer the runtime allocated (not a view, not a user's)

    # ---- NumPy-like attributes ----------------------------------------------------------------

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize

    @property
    def is_contiguous(self) -> bool:
        """C-contiguous (strides of size-1 axes do not matter)."""
        want = c_strides(self.shape, self.itemsize)
        return self.strides == want or all(
            n == 1 or s == w for n, s, w in zip(self.shape, self.strides, want)
        )

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self.shape}, dtype={self.dtype.name}, ptr=0x{self.ptr:x})"

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    # ---- to the host ----------------------------------------------------------------------------

    def get(self) -> np.ndarray:
        """A new NumPy array with this array's values (waits for the work that makes them)."""
        return self.device.to_host([self])[0]

    def __array__(self, dtype=None, copy=None):
        out = self.get()
        return out if dtype is None else out.astype(dtype, copy=False)

    def copy(self) -> np.ndarray:
        """A host copy: shared variables' `get_value()` copies device values back this way."""
        return self.get()

    def __reduce__(self):  # pickles as its values, like a shared variable's value
        return np.asarray, (self.get(),)

    @property
    def __cuda_array_interface__(self) -> dict:
        contiguous = self.is_contiguous
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self.ptr, False),
            "strides": None if contiguous else self.strides,
            "version": 3,
            "stream": self.device.stream_handle if self.device is not None else None,
        }

    # ---- views ----------------------------------------------------------------------------------

    def view_as(self, shape, strides, offset: int = 0) -> DeviceArray:
        """A view of the same memory starting `offset` bytes in."""
        shape, strides = tuple(int(n) for n in shape), tuple(int(s) for s in strides)
        return DeviceArray(
            self.ptr + offset, shape, self.dtype, strides, self.owner or self, self.device
        )

    def reshape(self, shape) -> DeviceArray:
        """A view with a new shape (one entry may be -1); only a contiguous array reshapes."""
        shape = _resolve_shape(tuple(int(n) for n in shape), self.size)
        if shape == self.shape:
            return self
        if not self.is_contiguous:
            raise NotContiguousError("reshape of a non-contiguous device array needs a copy")
        return self.view_as(shape, c_strides(shape, self.itemsize))

    def transpose(self, axes) -> DeviceArray:
        axes = tuple(axes)
        return self.view_as([self.shape[a] for a in axes], [self.strides[a] for a in axes])

    def squeeze(self, axes) -> DeviceArray:
        keep = [a for a in range(self.ndim) if a not in axes]
        return self.view_as([self.shape[a] for a in keep], [self.strides[a] for a in keep])

    def expand_dims(self, new_axes) -> DeviceArray:
        shape, strides, rest = [], [], iter(zip(self.shape, self.strides))
        for i in range(self.ndim + len(new_axes)):
            n, s = (1, 0) if i in new_axes else next(rest)
            shape.append(n)
            strides.append(s)
        return self.view_as(shape, strides)

    def broadcast_to(self, shape) -> DeviceArray:
        shape = tuple(int(n) for n in shape)
        lead = len(shape) - self.ndim
        if lead < 0:
            raise ValueError(f"cannot broadcast shape {self.shape} to {shape}")
        strides = [0] * lead
        for have, want, stride in zip(self.shape, shape[lead:], self.strides):
            if have != want and have != 1:
                raise ValueError(f"cannot broadcast shape {self.shape} to {shape}")
            strides.append(stride if have == want else 0)
        return self.view_as(shape, strides)

    def __getitem__(self, index) -> DeviceArray:
        """Basic indexing (integers, slices, None, Ellipsis) as a view; arrays of indices raise
        `NotAViewError` (the runtime then indexes on the host)."""
        index = index if isinstance(index, tuple) else (index,)
        if any(
            not isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) for i in index
        ):
            raise NotAViewError("advanced indexing is not a view")
        used = sum(1 for i in index if i is not None and i is not Ellipsis)
        if used > self.ndim:
            raise IndexError(f"too many indices for a {self.ndim}-d array")
        if Ellipsis in index:
            at = index.index(Ellipsis)
            index = index[:at] + (slice(None),) * (self.ndim - used) + index[at + 1 :]
        index = index + (slice(None),) * (self.ndim - sum(1 for i in index if i is not None))
        shape, strides, offset, axis = [], [], 0, 0
        for i in index:
            if i is None:
                shape.append(1)
                strides.append(0)
                continue
            n, s = self.shape[axis], self.strides[axis]
            axis += 1
            if isinstance(i, slice):
                start, stop, step = i.indices(n)
                shape.append(len(range(start, stop, step)))
                strides.append(s * step)
                offset += start * s if shape[-1] else 0
            else:
                k = int(i) + n if int(i) < 0 else int(i)
                if not 0 <= k < n:
                    raise IndexError(
                        f"index {int(i)} is out of bounds for axis {axis - 1} with size {n}"
                    )
                offset += k * s
        return self.view_as(shape, strides, offset)


class NotContiguousError(ValueError):
    """A view was asked of memory laid out another way: the runtime copies first."""


class NotAViewError(ValueError):
    """The operation is not a view of device memory: the runtime computes it on the host."""


@functools.lru_cache(maxsize=1024)
def c_strides(shape: tuple, itemsize: int) -> tuple:
    """The byte strides of a C-contiguous array."""
    return tuple(s * itemsize for s in contiguous_strides(shape))


def _resolve_shape(shape: tuple, size: int) -> tuple:
    if shape.count(-1) == 1:
        rest = math.prod(n for n in shape if n != -1)
        if rest == 0 or size % rest:
            raise ValueError(f"cannot reshape an array of size {size} into shape {shape}")
        shape = tuple(size // rest if n == -1 else n for n in shape)
    if math.prod(shape) != size:
        raise ValueError(f"cannot reshape an array of size {size} into shape {shape}")
    return shape


def from_interface(obj, device=None) -> DeviceArray:
    """A DeviceArray reading the memory of `obj`'s `__cuda_array_interface__` (no copy)."""
    if isinstance(obj, DeviceArray):
        return obj
    cai = obj.__cuda_array_interface__
    dtype = np.dtype(cai["typestr"])
    if cai.get("mask") is not None:
        raise TypeError("masked device arrays are not supported")
    shape = tuple(int(n) for n in cai["shape"])
    strides = cai.get("strides")
    strides = c_strides(shape, dtype.itemsize) if strides is None else tuple(map(int, strides))
    return DeviceArray(int(cai["data"][0]), shape, dtype, strides, obj, device)
