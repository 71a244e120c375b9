// The one thing the Swift kernels cannot say: a cache prefetch hint (LLVM's llvm.prefetch). Header-only.
#ifndef AIRFOIL_DP_CKERNELSUPPORT_H
#define AIRFOIL_DP_CKERNELSUPPORT_H

/// Asks the cache to fetch the line holding `address` for writing soon (temporal locality: keep it close).
static inline __attribute__((always_inline)) void kernels_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
