/// The direct path of ``GEMM`` for products with one output column: `y = alpha * op(A) x + beta * y`.
///
/// Training multiplies a `B x D` batch by a `D`-vector and the transposed batch by a `B`-vector; for these,
/// packing would copy more than it computes. Without transposition each output is a dot product along a stored
/// row; with it, the rows of the stored matrix are accumulated into `y`, so both walk memory with unit stride.
enum MatrixVector {
    typealias Vector = SIMD8<Float>

    /// `y[i * incY] = alpha * sum_p op(A)[i, p] * x[p * incX] + beta * y[i * incY]` for `i < rows`.
    static func multiply(
        _ trans: Transpose, rows: Int, depth: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>, incX: Int,
        beta: Float, y: UnsafeMutablePointer<Float>, incY: Int, scratch: inout PackingBuffer
    ) {
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
                let product = dot(a + i * lda, contiguousX, count: depth)
                y[i * incY] = combine(product, alpha: alpha, beta: beta, old: y[i * incY])
            }
        } else {
            let accumulator = buffer + depth
            accumulator.update(repeating: 0, count: rows)
            for p in 0..<depth {
                axpy(contiguousX[p], a + p * lda, accumulator, count: rows)
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

    /// The dot product of two contiguous vectors, eight lanes at a time with two accumulators.
    @inline(__always)
    static func dot(_ lhs: UnsafePointer<Float>, _ rhs: UnsafePointer<Float>, count: Int) -> Float {
        var index = 0
        var total: Float = 0
        if count >= 16 {
            var sum0 = Vector(), sum1 = Vector()
            let left = UnsafeRawPointer(lhs)
            let right = UnsafeRawPointer(rhs)
            while index + 16 <= count {
                let offset = index * 4
                sum0 = sum0.addingProduct(left.loadUnaligned(fromByteOffset: offset, as: Vector.self),
                                          right.loadUnaligned(fromByteOffset: offset, as: Vector.self))
                sum1 = sum1.addingProduct(left.loadUnaligned(fromByteOffset: offset + 32, as: Vector.self),
                                          right.loadUnaligned(fromByteOffset: offset + 32, as: Vector.self))
                index += 16
            }
            total = (sum0 + sum1).sum()
        }
        while index < count {
            total = total.addingProduct(lhs[index], rhs[index])
            index += 1
        }
        return total
    }

    /// `y += scale * x` over `count` contiguous elements.
    @inline(__always)
    static func axpy(_ scale: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var index = 0
        let factor = Vector(repeating: scale)
        let source = UnsafeRawPointer(x)
        let target = UnsafeMutableRawPointer(y)
        while index + 8 <= count {
            let offset = index * 4
            let updated = target.loadUnaligned(fromByteOffset: offset, as: Vector.self)
                .addingProduct(factor, source.loadUnaligned(fromByteOffset: offset, as: Vector.self))
            target.storeBytes(of: updated, toByteOffset: offset, as: Vector.self)
            index += 8
        }
        while index < count {
            y[index] = y[index].addingProduct(scale, x[index])
            index += 1
        }
    }
}
