"""Compatibility layers: other libraries' spellings mapped onto `symbolic`.

- `symbolic.compat.theano`: Theano 1.0's public API (`install()` makes `import theano` find it).
"""
