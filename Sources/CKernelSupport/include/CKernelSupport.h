// What the Swift kernels cannot say: a cache prefetch hint (LLVM's llvm.prefetch), a vector square root (Swift's
// SIMD squareRoot() runs lane by lane with a check per lane), and the CPU's features for choosing a kernel at run
// time. Header-only.
#ifndef AIRFOIL_DP_CKERNELSUPPORT_H
#define AIRFOIL_DP_CKERNELSUPPORT_H

/// Asks the cache to fetch the line holding `address` for writing soon (temporal locality: keep it close).
static inline __attribute__((always_inline)) void kernels_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

/// Asks the cache to fetch the line holding `address` for reading soon (temporal locality: keep it close).
static inline __attribute__((always_inline)) void kernels_prefetch_for_read(const void *address) {
    __builtin_prefetch(address, 0, 3);
}
/// Eight floats, imported into Swift as SIMD8<Float>.
typedef float kernels_float8 __attribute__((ext_vector_type(8)));

/// The correctly rounded square root of each lane (one vsqrtps with AVX): the same bits as the scalar sqrt.
static inline __attribute__((always_inline)) kernels_float8 kernels_sqrt8(kernels_float8 x) {
    return __builtin_elementwise_sqrt(x);
}

/// 1 when this CPU (and the operating system, which must save the wider registers) supports AVX-512F.
static inline int kernels_cpu_has_avx512f(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

/// 1 when this CPU supports AVX2 and FMA3.
static inline int kernels_cpu_has_avx2_fma(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

#endif
