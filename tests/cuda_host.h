/* Runs generated CUDA kernels on the host, for the tests of machines without a GPU.

   Compiled as C++20 in front of a module (g++ -include cuda_host.h -x c++ module.cu): the CUDA
   keywords become plain C++, and the threads of a block are coroutines (ucontext) on one host
   thread, switched at __syncthreads and __shfl_xor_sync; blocks run one after another. Each
   barrier waits for the threads of its block (or warp) that have not returned, as on Volta and
   later. __shared__ variables are static: one copy, owned by the one block running. So a kernel
   that reads another thread's data without a barrier, or forgets one, gives wrong values here as
   on a GPU, and one whose threads cannot all reach a barrier stops with a message, not a hang. */
#pragma once
#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

struct SymHostDim3 {
    unsigned x, y, z;
};
inline SymHostDim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static
#define __expf expf
#define __exp10f exp10f
#define __logf logf
#define __log2f log2f
#define __log10f log10f
#define __sinf sinf
#define __cosf cosf
#define __tanf tanf
#define __powf powf

namespace symhost {
constexpr unsigned MAX_THREADS = 1024, STACK_BYTES = 1 << 16;

struct Thread {
    ucontext_t context;
    int waiting = -1;  // the barrier it waits at (0: block, 1 + w: warp w), -1: runnable
    bool done = false;
};
inline ucontext_t scheduler;
inline Thread threads[MAX_THREADS];
inline std::vector<char> stacks;
inline unsigned current, live;
inline unsigned arrived[1 + MAX_THREADS / 32];
inline unsigned exchange[MAX_THREADS];
inline void (*body)(void *);
inline void *body_state;

/* The threads of a barrier's group that have not returned, and whether all have arrived. */
inline unsigned group_size(int barrier) {
    const unsigned first = barrier == 0 ? 0 : (barrier - 1) * 32;
    const unsigned last = barrier == 0 ? blockDim.x : first + 32;
    unsigned n = 0;
    for (unsigned t = first; t < last; t++) n += !threads[t].done;
    return n;
}
inline void release_if_complete(int barrier) {
    if (arrived[barrier] == 0 || arrived[barrier] < group_size(barrier)) return;
    arrived[barrier] = 0;
    for (unsigned t = 0; t < blockDim.x; t++)
        if (threads[t].waiting == barrier) threads[t].waiting = -1;
}
inline void wait_at(int barrier) {
    arrived[barrier]++;
    threads[current].waiting = barrier;
    release_if_complete(barrier);
    if (threads[current].waiting >= 0) swapcontext(&threads[current].context, &scheduler);
}
inline void entry() {
    body(body_state);
    threads[current].done = true;
    live--;
    release_if_complete(0);
    release_if_complete(1 + current / 32);
}
}  // namespace symhost

inline void __syncthreads() { symhost::wait_at(0); }

inline unsigned __shfl_xor_sync(unsigned, unsigned value, int lane_mask) {
    using namespace symhost;
    const unsigned t = current;
    exchange[t] = value;
    wait_at(1 + t / 32);
    const unsigned got = exchange[(t & ~31u) | ((t & 31u) ^ (unsigned)lane_mask)];
    wait_at(1 + t / 32);
    return got;
}

/* One launch: `kernel()` on grid × block threads. */
template <typename F> void sym_host_launch(unsigned grid, unsigned block, F kernel) {
    using namespace symhost;
    if (block > MAX_THREADS || block % 32) abort();
    blockDim = {block, 1, 1};
    gridDim = {grid, 1, 1};
    stacks.resize((size_t)block * STACK_BYTES);
    body = [](void *state) { (*(F *)state)(); };
    body_state = &kernel;
    for (unsigned b = 0; b < grid; b++) {
        blockIdx = {b, 0, 0};
        memset(arrived, 0, sizeof(arrived));
        for (unsigned t = 0; t < block; t++) {
            Thread &thread = threads[t];
            thread.waiting = -1;
            thread.done = false;
            getcontext(&thread.context);
            thread.context.uc_stack.ss_sp = stacks.data() + (size_t)t * STACK_BYTES;
            thread.context.uc_stack.ss_size = STACK_BYTES;
            thread.context.uc_link = &scheduler;
            makecontext(&thread.context, entry, 0);
        }
        live = block;
        while (live) {
            bool ran = false;
            for (unsigned t = 0; t < block; t++) {
                if (threads[t].done || threads[t].waiting >= 0) continue;
                current = t;
                threadIdx = {t, 0, 0};
                swapcontext(&scheduler, &threads[t].context);
                ran = true;
            }
            if (!ran) {
                fprintf(stderr, "cuda_host: block %u deadlocks at a barrier\n", b);
                abort();
            }
        }
    }
}
