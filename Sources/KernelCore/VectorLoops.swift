// The matrix-vector loops and the peak-throughput loop, written once and compiled per instruction set like the
// tiles (see Tiles.swift).

/// The dot product of two contiguous vectors, sixteen lanes at a time with two accumulators.
@inlinable @inline(__always)
public func dotProduct<Arithmetic: VectorArithmetic>(
    _ lhs: UnsafePointer<Float>, _ rhs: UnsafePointer<Float>, count: Int, _: Arithmetic.Type
) -> Float {
    typealias Vector = SIMD16<Float>
    var index = 0
    var total: Float = 0
    if count >= 32 {
        var sum0 = Vector(), sum1 = Vector()
        let left = UnsafeRawPointer(lhs)
        let right = UnsafeRawPointer(rhs)
        while index + 32 <= count {
            let offset = index * 4
            sum0 = Arithmetic.multiplyAdd(left.loadUnaligned(fromByteOffset: offset, as: Vector.self),
                                          right.loadUnaligned(fromByteOffset: offset, as: Vector.self), sum0)
            sum1 = Arithmetic.multiplyAdd(left.loadUnaligned(fromByteOffset: offset + 64, as: Vector.self),
                                          right.loadUnaligned(fromByteOffset: offset + 64, as: Vector.self), sum1)
            index += 32
        }
        total = (sum0 + sum1).sum()
    }
    while index < count {
        total += lhs[index] * rhs[index]
        index += 1
    }
    return total
}

/// `y += scale * x` over `count` contiguous elements.
@inlinable @inline(__always)
public func scaledAdd<Arithmetic: VectorArithmetic>(
    _ scale: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, _: Arithmetic.Type
) {
    typealias Vector = SIMD16<Float>
    var index = 0
    let factor = Vector(repeating: scale)
    let source = UnsafeRawPointer(x)
    let target = UnsafeMutableRawPointer(y)
    while index + 16 <= count {
        let offset = index * 4
        let updated = Arithmetic.multiplyAdd(
            factor, source.loadUnaligned(fromByteOffset: offset, as: Vector.self),
            target.loadUnaligned(fromByteOffset: offset, as: Vector.self))
        target.storeBytes(of: updated, toByteOffset: offset, as: Vector.self)
        index += 16
    }
    while index < count {
        y[index] += scale * x[index]
        index += 1
    }
}

/// Twelve independent multiply-add chains of `Vector` for `iterations` steps, returning a value to keep alive. With
/// vectors as wide as the CPU's FMA, twelve registers cover the latency of two FMA pipes and the loop runs at their
/// throughput. Each set passes its own width: 16-lane chains on AVX2 need 24 of its 16 registers and spill, and the
/// "peak" then read below what OpenBLAS's GEMM reached.
@inlinable @inline(__always)
public func multiplyAddChains<Vector: SIMD>(
    _ iterations: Int, _ multiplyAdd: (Vector, Vector, Vector) -> Vector
) -> Float where Vector.Scalar == Float {
    let scale = Vector(repeating: 0.999_999)
    let offset = Vector(repeating: 1e-7)
    var a0 = Vector(repeating: 1), a1 = Vector(repeating: 2), a2 = Vector(repeating: 3)
    var a3 = Vector(repeating: 4), a4 = Vector(repeating: 5), a5 = Vector(repeating: 6)
    var a6 = Vector(repeating: 7), a7 = Vector(repeating: 8), a8 = Vector(repeating: 9)
    var a9 = Vector(repeating: 10), a10 = Vector(repeating: 11), a11 = Vector(repeating: 12)
    for _ in 0..<iterations {
        a0 = multiplyAdd(a0, scale, offset)
        a1 = multiplyAdd(a1, scale, offset)
        a2 = multiplyAdd(a2, scale, offset)
        a3 = multiplyAdd(a3, scale, offset)
        a4 = multiplyAdd(a4, scale, offset)
        a5 = multiplyAdd(a5, scale, offset)
        a6 = multiplyAdd(a6, scale, offset)
        a7 = multiplyAdd(a7, scale, offset)
        a8 = multiplyAdd(a8, scale, offset)
        a9 = multiplyAdd(a9, scale, offset)
        a10 = multiplyAdd(a10, scale, offset)
        a11 = multiplyAdd(a11, scale, offset)
    }
    return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).sum()
}
