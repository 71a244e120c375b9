// The GEMM's path for small products, written once and compiled per instruction set like the tiles (Tiles.swift).

/// `C = alpha * op(A) * B + beta * C` for a small product, without packing: the MLP's products (a local batch of
/// 1 to 100 rows against 64-wide layers) are so small that copying the operands into slivers costs as much as the
/// multiplication (libxsmm's observation). The tiles broadcast `op(A)` straight from its storage, element `(i, p)`
/// at `a[i * aRowStride + p * aDepthStride]` (so `A` and `A^T` are the same loop), and load rows of `B` (row
/// stride `ldb`) straight into vectors. Six rows of `C` at a time; 64 columns per tile when `wide` (24 of
/// AVX-512's 32 registers), else 16; the last columns short of 16 go through `edgeSliver`, a zero-padded copy of
/// their `depth x 16` block of `B` (`depth * 16` floats of scratch). Rows past `m` in the last tile repeat row 0
/// and are not stored, so nothing is read out of bounds.
@inlinable @inline(__always)
public func directProduct<Arithmetic: VectorArithmetic>(
    wide: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, edgeSliver: UnsafeMutablePointer<Float>,
    _ arithmetic: Arithmetic.Type
) {
    var column = 0
    if wide {
        while n - column >= 64 {
            for row in stride(from: 0, to: m, by: 6) {
                directTile(vectors: 4, depth: k, a: a + row * aRowStride, aRowStride: aRowStride,
                           aDepthStride: aDepthStride, b: b + column, ldb: ldb, c: c + row * ldc + column, ldc: ldc,
                           alpha: alpha, beta: beta, rows: min(6, m - row), columns: 64, arithmetic)
            }
            column += 64
        }
    }
    while n - column >= 16 {
        for row in stride(from: 0, to: m, by: 6) {
            directTile(vectors: 1, depth: k, a: a + row * aRowStride, aRowStride: aRowStride,
                       aDepthStride: aDepthStride, b: b + column, ldb: ldb, c: c + row * ldc + column, ldc: ldc,
                       alpha: alpha, beta: beta, rows: min(6, m - row), columns: 16, arithmetic)
        }
        column += 16
    }
    guard column < n else { return }
    let remaining = n - column
    for p in 0..<k {
        let target = edgeSliver + p * 16
        target.update(from: b + p * ldb + column, count: remaining)
        (target + remaining).update(repeating: 0, count: 16 - remaining)
    }
    for row in stride(from: 0, to: m, by: 6) {
        directTile(vectors: 1, depth: k, a: a + row * aRowStride, aRowStride: aRowStride, aDepthStride: aDepthStride,
                   b: edgeSliver, ldb: 16, c: c + row * ldc + column, ldc: ldc, alpha: alpha, beta: beta,
                   rows: min(6, m - row), columns: remaining, arithmetic)
    }
}

/// One tile of ``directProduct(wide:m:n:k:alpha:a:aRowStride:aDepthStride:b:ldb:beta:c:ldc:edgeSliver:_:)``:
/// six rows by `vectors` x 16 columns (`vectors` is 1 or 4, a constant once inlined), `rows` and `columns` of
/// them stored; a single row has a loop of its own.
@inlinable @inline(__always)
func directTile<Arithmetic: VectorArithmetic>(
    vectors: Int, depth: Int, a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
    b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float,
    rows: Int, columns: Int, _: Arithmetic.Type
) {
    typealias Vector = SIMD16<Float>
    // Rows past the edge read row 0 again (their sums are dropped).
    let a0 = a
    let a1 = a + (rows > 1 ? aRowStride : 0)
    let a2 = a + (rows > 2 ? 2 * aRowStride : 0)
    let a3 = a + (rows > 3 ? 3 * aRowStride : 0)
    let a4 = a + (rows > 4 ? 4 * aRowStride : 0)
    let a5 = a + (rows > 5 ? 5 * aRowStride : 0)
    let bRaw = UnsafeRawPointer(b)
    withUnsafeTemporaryAllocation(of: Vector.self, capacity: 24) { tile in
        if rows == 1 {
            // One row (a one-example batch): the same sums in the same order as the six-row loop's first row, without
            // the work of the five absent rows.
            for vector in 0..<vectors {
                var sum = Vector()
                for p in 0..<depth {
                    sum = Arithmetic.multiplyAdd(
                        Vector(repeating: a0[p * aDepthStride]),
                        bRaw.loadUnaligned(fromByteOffset: (p * ldb + vector * 16) * 4, as: Vector.self), sum)
                }
                tile.initializeElement(at: vector, to: sum)
            }
        } else if vectors == 4 {
            var c00 = Vector(), c01 = Vector(), c02 = Vector(), c03 = Vector()
            var c10 = Vector(), c11 = Vector(), c12 = Vector(), c13 = Vector()
            var c20 = Vector(), c21 = Vector(), c22 = Vector(), c23 = Vector()
            var c30 = Vector(), c31 = Vector(), c32 = Vector(), c33 = Vector()
            var c40 = Vector(), c41 = Vector(), c42 = Vector(), c43 = Vector()
            var c50 = Vector(), c51 = Vector(), c52 = Vector(), c53 = Vector()
            for p in 0..<depth {
                let line = p * ldb * 4
                let b0 = bRaw.loadUnaligned(fromByteOffset: line, as: Vector.self)
                let b1 = bRaw.loadUnaligned(fromByteOffset: line + 64, as: Vector.self)
                let b2 = bRaw.loadUnaligned(fromByteOffset: line + 128, as: Vector.self)
                let b3 = bRaw.loadUnaligned(fromByteOffset: line + 192, as: Vector.self)
                let offset = p * aDepthStride
                var x = Vector(repeating: a0[offset])
                c00 = Arithmetic.multiplyAdd(x, b0, c00); c01 = Arithmetic.multiplyAdd(x, b1, c01)
                c02 = Arithmetic.multiplyAdd(x, b2, c02); c03 = Arithmetic.multiplyAdd(x, b3, c03)
                x = Vector(repeating: a1[offset])
                c10 = Arithmetic.multiplyAdd(x, b0, c10); c11 = Arithmetic.multiplyAdd(x, b1, c11)
                c12 = Arithmetic.multiplyAdd(x, b2, c12); c13 = Arithmetic.multiplyAdd(x, b3, c13)
                x = Vector(repeating: a2[offset])
                c20 = Arithmetic.multiplyAdd(x, b0, c20); c21 = Arithmetic.multiplyAdd(x, b1, c21)
                c22 = Arithmetic.multiplyAdd(x, b2, c22); c23 = Arithmetic.multiplyAdd(x, b3, c23)
                x = Vector(repeating: a3[offset])
                c30 = Arithmetic.multiplyAdd(x, b0, c30); c31 = Arithmetic.multiplyAdd(x, b1, c31)
                c32 = Arithmetic.multiplyAdd(x, b2, c32); c33 = Arithmetic.multiplyAdd(x, b3, c33)
                x = Vector(repeating: a4[offset])
                c40 = Arithmetic.multiplyAdd(x, b0, c40); c41 = Arithmetic.multiplyAdd(x, b1, c41)
                c42 = Arithmetic.multiplyAdd(x, b2, c42); c43 = Arithmetic.multiplyAdd(x, b3, c43)
                x = Vector(repeating: a5[offset])
                c50 = Arithmetic.multiplyAdd(x, b0, c50); c51 = Arithmetic.multiplyAdd(x, b1, c51)
                c52 = Arithmetic.multiplyAdd(x, b2, c52); c53 = Arithmetic.multiplyAdd(x, b3, c53)
            }
            tile.initializeElement(at: 0, to: c00)
            tile.initializeElement(at: 1, to: c01)
            tile.initializeElement(at: 2, to: c02)
            tile.initializeElement(at: 3, to: c03)
            tile.initializeElement(at: 4, to: c10)
            tile.initializeElement(at: 5, to: c11)
            tile.initializeElement(at: 6, to: c12)
            tile.initializeElement(at: 7, to: c13)
            tile.initializeElement(at: 8, to: c20)
            tile.initializeElement(at: 9, to: c21)
            tile.initializeElement(at: 10, to: c22)
            tile.initializeElement(at: 11, to: c23)
            tile.initializeElement(at: 12, to: c30)
            tile.initializeElement(at: 13, to: c31)
            tile.initializeElement(at: 14, to: c32)
            tile.initializeElement(at: 15, to: c33)
            tile.initializeElement(at: 16, to: c40)
            tile.initializeElement(at: 17, to: c41)
            tile.initializeElement(at: 18, to: c42)
            tile.initializeElement(at: 19, to: c43)
            tile.initializeElement(at: 20, to: c50)
            tile.initializeElement(at: 21, to: c51)
            tile.initializeElement(at: 22, to: c52)
            tile.initializeElement(at: 23, to: c53)
        } else {
            var c0 = Vector(), c1 = Vector(), c2 = Vector(), c3 = Vector(), c4 = Vector(), c5 = Vector()
            for p in 0..<depth {
                let b0 = bRaw.loadUnaligned(fromByteOffset: p * ldb * 4, as: Vector.self)
                let offset = p * aDepthStride
                c0 = Arithmetic.multiplyAdd(Vector(repeating: a0[offset]), b0, c0)
                c1 = Arithmetic.multiplyAdd(Vector(repeating: a1[offset]), b0, c1)
                c2 = Arithmetic.multiplyAdd(Vector(repeating: a2[offset]), b0, c2)
                c3 = Arithmetic.multiplyAdd(Vector(repeating: a3[offset]), b0, c3)
                c4 = Arithmetic.multiplyAdd(Vector(repeating: a4[offset]), b0, c4)
                c5 = Arithmetic.multiplyAdd(Vector(repeating: a5[offset]), b0, c5)
            }
            tile.initializeElement(at: 0, to: c0)
            tile.initializeElement(at: 1, to: c1)
            tile.initializeElement(at: 2, to: c2)
            tile.initializeElement(at: 3, to: c3)
            tile.initializeElement(at: 4, to: c4)
            tile.initializeElement(at: 5, to: c5)
        }
        if alpha != 1 {
            for index in 0..<(6 * vectors) { tile[index] *= Vector(repeating: alpha) }
        }
        storeTile(UnsafeMutableBufferPointer(rebasing: tile[0..<(6 * vectors)]), vectorsPerRow: vectors, c: c,
                  ldc: ldc, beta: beta, rows: rows, columns: columns)
    }
}
