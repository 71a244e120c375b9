import KernelCore

/// The kernels for AVX-512F (zmm registers): compiled with `-target-cpu skylake-avx512`; run only where the CPU has AVX-512F.
public enum AVX512Kernels {
    /// Rows and columns of the register tile.
    public static let tileRows = 12
    public static let tileColumns = 32

    public static func tile(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        beta: Float, rows: Int, columns: Int
    ) {
        tile12x32(depth: depth, a: a, b: b, c: c, ldc: ldc, beta: beta, rows: rows, columns: columns, FusedArithmetic.self)
    }

    public static func dot(_ lhs: UnsafePointer<Float>, _ rhs: UnsafePointer<Float>, count: Int) -> Float {
        dotProduct(lhs, rhs, count: count, FusedArithmetic.self)
    }

    public static func scaledAdd(_ scale: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        KernelCore.scaledAdd(scale, x, y, count: count, FusedArithmetic.self)
    }

    public static func multiplyAddChains(_ iterations: Int) -> SIMD16<Float> {
        KernelCore.multiplyAddChains(iterations, FusedArithmetic.self)
    }
}
