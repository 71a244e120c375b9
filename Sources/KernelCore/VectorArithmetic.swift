/// How a kernel forms `a * b + c` on vectors: one fused multiply-add where the instruction set has it, a multiply
/// then an add where it does not (baseline x86-64 has no FMA, and `addingProduct` would then call `fmaf` per lane).
/// The two round differently, so kernels agree to rounding, not bit for bit. Each instruction set's module has its
/// own conforming type (see `AVX512Arithmetic`).
public protocol VectorArithmetic {
    static func multiplyAdd(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float>
    static func multiplyAdd(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float>
    /// For `--reproducible`'s integer sums (FixedPointSums.swift), whose products are exact, so that both forms give
    /// the same bits there.
    static func multiplyAdd(_ a: SIMD8<Double>, _ b: SIMD8<Double>, _ c: SIMD8<Double>) -> SIMD8<Double>
}
