// XXH3 from the xxHash library's header (Debian's libxxhash-dev), compiled inline into this module: nothing to link,
// so the bundle's binary needs no libxxhash on the nodes. Nothing but the Checksums module includes this header.
#ifndef AIRFOIL_DP_CXXHASH_SHIM_H
#define AIRFOIL_DP_CXXHASH_SHIM_H

#define XXH_INLINE_ALL
#include <xxhash.h>

/// The 64-bit XXH3 hash (seed 0) of `count` bytes at `bytes`.
static inline unsigned long long cxxhash_xxh3_64(const void *bytes, size_t count) {
    return XXH3_64bits(bytes, count);
}

#endif
