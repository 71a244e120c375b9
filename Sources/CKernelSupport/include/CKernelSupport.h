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

/// What the instruction-set modules are compiled for (Package.swift's `kernelSettings(level:extra:)`; a test ties
/// the two): an x86-64 microarchitecture level and extra features, of which a module may use any instruction, so the
/// CPU must have every one of them, not only the widest. The AVX-512 set adds PRFCHW (its tiles prefetch C for
/// writing), which every AVX-512 CPU has.
#define KERNELS_AVX512_FEATURES "x86-64-v4 prfchw"
#define KERNELS_AVX2_FEATURES "x86-64-v3"

/// What the AVX-512 set is compiled for: a level and extra features, separated by spaces.
static inline const char *kernels_avx512_features(void) { return KERNELS_AVX512_FEATURES; }

/// What the AVX2 set is compiled for.
static inline const char *kernels_avx2_features(void) { return KERNELS_AVX2_FEATURES; }

/// 1 when this CPU and the operating system (which must save the wider registers) support every feature of
/// x86-64-v4 (AVX-512 F, BW, CD, DQ and VL, and all of x86-64-v3) and PRFCHW.
static inline int kernels_cpu_runs_avx512_set(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("x86-64-v4") && __builtin_cpu_supports("prfchw");
#else
    return 0;
#endif
}

/// 1 when this CPU supports every feature of x86-64-v3: AVX, AVX2, FMA, BMI1, BMI2, F16C, LZCNT, MOVBE, XSAVE
/// and all of x86-64-v2.
static inline int kernels_cpu_runs_avx2_set(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("x86-64-v3");
#else
    return 0;
#endif
}

#endif
