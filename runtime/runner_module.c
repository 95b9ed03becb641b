/* The runner as one translation unit, as setup.py compiles it into runtime.symbolic_runner at
 * install time (runtime/runner_source.py lists the same files in the same order; native.py
 * concatenates them where it builds the runner into the cache instead). */
#include "runner.c"
#include "runner_views.c"
#include "runner_loop.c"
#include "runner_blas.c"
#include "runner_type.c"
