"""Running compiled graphs: the reference interpreter now; the C and CUDA runtimes plug in here."""
