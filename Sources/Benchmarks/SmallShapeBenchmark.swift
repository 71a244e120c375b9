import Kernels

/// The GEMM shapes the MLP's step multiplies (layers of width 64, local batches of 1 to 100 rows), where packing
/// and call overhead weigh more than the arithmetic: the regime libxsmm is built for.
public enum SmallShapeBenchmark {
    /// One product `C (m x n) = op(A) op(B)` with `op(A)` `m x k`.
    public struct Shape: Sendable {
        /// What the step uses it for: `forward` (`[a, 1] W`), `weights` (`[a, 1]^T dZ`), `deltas` (`dZ W^T`).
        public var role: String
        public var m, n, k: Int
        public var transA, transB: Transpose

        /// FLOPs of one product.
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    }

    /// For each local batch of `rows` in {1, 6, 25, 100}: the forward product of a 64-wide layer, the backward
    /// weight gradient (`A` transposed) and the backward deltas (`B` transposed), with n = k = 64.
    public static let shapes: [Shape] = [1, 6, 25, 100].flatMap { rows in
        [
            Shape(role: "forward", m: rows, n: 64, k: 64, transA: .none, transB: .none),
            Shape(role: "weights", m: 64, n: 64, k: rows, transA: .transposed, transB: .none),
            Shape(role: "deltas", m: rows, n: 64, k: 64, transA: .none, transB: .transposed),
        ]
    }

    /// Median seconds of one product of `shape`, with operands stored as the trainer stores them: row-major, dense,
    /// each starting on a cache line (``Swift/UnsafeMutableBufferPointer/allocateLineAligned(count:)``; the OpenBLAS
    /// side of `scripts/bench-gemm-vs-openblas.sh` aligns its operands the same way).
    public static func seconds(_ shape: Shape, gemm: GEMM, quick: Bool) -> Double {
        let a = UnsafeMutableBufferPointer<Float>.allocateLineAligned(count: shape.m * shape.k)
        let b = UnsafeMutableBufferPointer<Float>.allocateLineAligned(count: shape.k * shape.n)
        let c = UnsafeMutableBufferPointer<Float>.allocateLineAligned(count: shape.m * shape.n)
        defer { [a, b, c].forEach { $0.deallocateLineAligned() } }
        for index in a.indices { a[index] = Float(index % 7) * 0.25 - 0.75 }
        for index in b.indices { b[index] = Float(index % 5) * 0.5 - 1 }
        c.initialize(repeating: 0)
        let lda = shape.transA == .none ? shape.k : shape.m
        let ldb = shape.transB == .none ? shape.n : shape.k
        let calls = max(1, Int(2e6 / shape.flops))
        return Timing.medianSeconds(repetitions: quick ? 3 : 15) {
            for _ in 0..<calls {
                gemm.multiply(shape.transA, shape.transB, m: shape.m, n: shape.n, k: shape.k, alpha: 1,
                              a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb, beta: 0,
                              c: c.baseAddress!, ldc: shape.n)
            }
        } / Double(calls)
    }
}
