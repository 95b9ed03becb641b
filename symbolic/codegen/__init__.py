"""Kernel source generation (C and CUDA) from kernel descriptions: text in, text out."""
