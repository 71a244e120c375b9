/// The direct path of ``GEMM`` for products with one output column: `y = alpha * op(A) x + beta * y`.
///
/// Training multiplies a `B x D` batch by a `D`-vector and the transposed batch by a `B`-vector; for these,
/// packing would copy more than it computes. Without transposition each output is a dot product along a stored
/// row; with it, the rows of the stored matrix are accumulated into `y`, so both walk memory with unit stride.
enum MatrixVector {
    /// `y[i * incY] = alpha * sum_p op(A)[i, p] * x[p * incX] + beta * y[i * incY]` for `i < rows`.
    static func multiply(
        _ trans: Transpose, rows: Int, depth: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>, incX: Int,
        beta: Float, y: UnsafeMutablePointer<Float>, incY: Int, scratch: inout PackingBuffer, kernels: KernelSet
    ) {
        let dot = kernels.dot
        let axpy = kernels.scaledAdd
        let buffer = scratch.reserve(depth + rows)
        let contiguousX: UnsafePointer<Float>
        if incX == 1 {
            contiguousX = x
        } else {
            for p in 0..<depth { buffer[p] = x[p * incX] }
            contiguousX = UnsafePointer(buffer)
        }
        if trans == .none {
            for i in 0..<rows {
                let product = dot(a + i * lda, contiguousX, depth)
                y[i * incY] = combine(product, alpha: alpha, beta: beta, old: y[i * incY])
            }
        } else {
            let accumulator = buffer + depth
            accumulator.update(repeating: 0, count: rows)
            for p in 0..<depth {
                axpy(contiguousX[p], a + p * lda, accumulator, rows)
            }
            for i in 0..<rows {
                y[i * incY] = combine(accumulator[i], alpha: alpha, beta: beta, old: y[i * incY])
            }
        }
    }

    @inline(__always)
    private static func combine(_ product: Float, alpha: Float, beta: Float, old: Float) -> Float {
        beta == 0 ? alpha * product : alpha * product + beta * old
    }
}
