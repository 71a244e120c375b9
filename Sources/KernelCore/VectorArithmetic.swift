/// How a kernel forms `a * b + c` on vectors: one fused multiply-add where the instruction set has it, a multiply
/// then an add where it does not (baseline x86-64 has no FMA, and `addingProduct` would then call `fmaf` per lane).
/// The two round differently, so kernels agree to rounding, not bit for bit.
public protocol VectorArithmetic {
    static func multiplyAdd(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float>
}

/// `a * b + c` rounded once (FMA3 on x86-64, FMLA on aarch64).
public enum FusedArithmetic: VectorArithmetic {
    @inlinable @inline(__always)
    public static func multiplyAdd(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
        c.addingProduct(a, b)
    }
}

/// `a * b + c` as a multiply and an add, each rounded.
public enum SeparateArithmetic: VectorArithmetic {
    @inlinable @inline(__always)
    public static func multiplyAdd(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
        a * b + c
    }
}
