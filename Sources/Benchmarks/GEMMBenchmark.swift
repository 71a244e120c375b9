import Optimization
import Models
import Data
import Common
import Kernels

/// The chapter's "four ways to multiply matrices" and a size sweep of the blocked GEMM.
///
/// All methods compute `C = A B` for square row-major `n x n` matrices. GFLOP/s are real: `2 n^3 / t`.
public final class GEMMBenchmark {
    /// One of the chapter's ways to compute the product.
    public enum Method: String, CaseIterable, Sendable {
        /// `C[i, j] = dot(A[i, :], B[:, j])`: one dot product per element, walking B by columns.
        case element
        /// `C[:, j] = A B[:, j]`: one matrix-vector product per column.
        case column
        /// `C = A B` in one blocked GEMM call.
        case whole
        /// `C[:, j:j+64] = A B[:, j:j+64]`: one GEMM per block of 64 columns.
        case blocks64 = "blocks"
    }

    public let n: Int
    private let gemm = GEMM()
    private let a: UnsafeMutableBufferPointer<Float>
    private let b: UnsafeMutableBufferPointer<Float>
    private let c: UnsafeMutableBufferPointer<Float>

    /// Allocates `n x n` operands filled with values in [-1, 1).
    public init(n: Int) {
        self.n = n
        a = .allocate(capacity: max(n * n, 1))
        b = .allocate(capacity: max(n * n, 1))
        c = .allocate(capacity: max(n * n, 1))
        var state: UInt32 = 12345
        for index in 0..<(n * n) {
            state = state &* 1_664_525 &+ 1_013_904_223
            a[index] = Float(state >> 8) / Float(1 << 23) - 1
            state = state &* 1_664_525 &+ 1_013_904_223
            b[index] = Float(state >> 8) / Float(1 << 23) - 1
        }
        c.initialize(repeating: 0)
    }

    deinit {
        a.deallocate()
        b.deallocate()
        c.deallocate()
    }

    /// FLOPs of one product.
    public var flops: Double { 2 * Double(n) * Double(n) * Double(n) }

    /// Computes the product once with `method`.
    public func run(_ method: Method) {
        let a = a.baseAddress!, b = b.baseAddress!, c = c.baseAddress!
        switch method {
        case .element:
            for i in 0..<n {
                for j in 0..<n {
                    var sum: Float = 0
                    // A multiply and an add: this module is built for the baseline CPU, where a fused
                    // multiply-add would be a call to the C library's fmaf per product.
                    for p in 0..<n { sum += a[i * n + p] * b[p * n + j] }
                    c[i * n + j] = sum
                }
            }
        case .column:
            for j in 0..<n {
                gemm.multiply(.none, .none, m: n, n: 1, k: n, alpha: 1, a: a, lda: n, b: b + j, ldb: n,
                              beta: 0, c: c + j, ldc: n)
            }
        case .whole:
            gemm.multiply(.none, .none, m: n, n: n, k: n, alpha: 1, a: a, lda: n, b: b, ldb: n,
                          beta: 0, c: c, ldc: n)
        case .blocks64:
            for j in stride(from: 0, to: n, by: 64) {
                gemm.multiply(.none, .none, m: n, n: min(64, n - j), k: n, alpha: 1, a: a, lda: n, b: b + j,
                              ldb: n, beta: 0, c: c + j, ldc: n)
            }
        }
    }

    /// The textbook triple loop (i, j, p), scalar and unblocked: the baseline the blocked kernel beats.
    public func runNaive() {
        let a = a.baseAddress!, b = b.baseAddress!, c = c.baseAddress!
        for i in 0..<n {
            for j in 0..<n {
                var sum: Float = 0
                for p in 0..<n { sum += a[i * n + p] * b[p * n + j] }
                c[i * n + j] = sum
            }
        }
    }

    /// A checksum of C, so the work cannot be optimised away.
    public var checksum: Float { c.reduce(0, +) }
}
