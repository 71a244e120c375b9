// The GEMM's path for small products, written once and compiled per instruction set like the tiles (Tiles.swift).

/// `C = alpha * op(A) * B + beta * C` for a small product, without packing: the MLP's products (a local batch of
/// 1 to 100 rows against 64-wide layers) are so small that copying the operands into slivers costs as much as the
/// multiplication (libxsmm's observation). The tiles broadcast `op(A)` straight from its storage, element `(i, p)`
/// at `a[i * aRowStride + p * aDepthStride]` (so `A` and `A^T` are the same loop), and load rows of `B` (row
/// stride `ldb`) straight into vectors. Six rows of `C` at a time; 64 columns per tile when `wide` (24 of
/// AVX-512's 32 registers), else 16; the last columns short of 16 go through `edgeSliver`, a zero-padded copy of
/// their `depth x 16` block of `B` (`depth * 16` floats of scratch). Rows past `m` in the last tile repeat row 0
/// and are not stored, so nothing is read out of bounds.
///
/// With `rowInvariant` a row left alone (a product of one row, or the last of the six-row tiles) goes through the
/// four-row tile rather than ``directRow``'s split sums: every element of `C` is then one chain of multiply-adds
/// over the depth in order, so a row's bits depend on that row and `B` alone, never on the batch around it
/// (`--reproducible`).
@inlinable @inline(__always)
public func directProduct<Arithmetic: VectorArithmetic>(
    wide: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, edgeSliver: UnsafeMutablePointer<Float>,
    rowInvariant: Bool, _ arithmetic: Arithmetic.Type
) {
    if k <= (wide ? 6 : 1) && n % 16 == 0 {
        directShallowProduct(m: m, n: n, k: k, alpha: alpha, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                             b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, arithmetic)
        return
    }
    var column = 0
    if wide {
        while n - column >= 64 {
            directRows6x64(m: m, depth: k, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride, b: b + column,
                           ldb: ldb, c: c + column, ldc: ldc, alpha: alpha, beta: beta, rowInvariant: rowInvariant,
                           arithmetic)
            column += 64
        }
    }
    while n - column >= 16 {
        directRows6x16(m: m, depth: k, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride, b: b + column,
                       ldb: ldb, c: c + column, ldc: ldc, alpha: alpha, beta: beta, columns: 16,
                       rowInvariant: rowInvariant, arithmetic)
        column += 16
    }
    guard column < n else { return }
    let remaining = n - column
    for p in 0..<k {
        let target = edgeSliver + p * 16
        target.update(from: b + p * ldb + column, count: remaining)
        (target + remaining).update(repeating: 0, count: 16 - remaining)
    }
    directRows6x16(m: m, depth: k, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride, b: edgeSliver, ldb: 16,
                   c: c + column, ldc: ldc, alpha: alpha, beta: beta, columns: remaining, rowInvariant: rowInvariant,
                   arithmetic)
}

/// A product of at most six depth steps (one with 16 vector registers), `C = alpha * op(A) B + beta * C`: the weight
/// gradient of a step of one to six examples per rank. `B` stays in registers, up to 6 x 64 values (24 of
/// AVX-512's 32), and each row of C is its depth's broadcasts, four chains of multiply-adds and four stores, with
/// `alpha` and `beta` tested once, not per vector: the six-row tiles paid their set-up for a few depth steps and
/// ran at 0.6 (one step) and 0.85 (six) of OpenBLAS. Each sum runs over the depth in order from zero, then is
/// multiplied by `alpha`, as in the tiles, so the results are the same bits.
///
/// The depth is a constant in each of six copies of the loops (`switch`), so a row tests neither the depth nor, with
/// 64 columns, the vector count; `alpha` 1 (the trainer's) skips the multiply by it.
@inlinable @inline(never)
func directShallowProduct<Arithmetic: VectorArithmetic>(
    m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
    b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, _: Arithmetic.Type
) {
    switch k {
    case 1: shallowProduct(m: m, n: n, k: 1, alpha: alpha, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                           b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, Arithmetic.self)
    case 2: shallowProduct(m: m, n: n, k: 2, alpha: alpha, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                           b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, Arithmetic.self)
    case 3: shallowProduct(m: m, n: n, k: 3, alpha: alpha, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                           b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, Arithmetic.self)
    case 4: shallowProduct(m: m, n: n, k: 4, alpha: alpha, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                           b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, Arithmetic.self)
    case 5: shallowProduct(m: m, n: n, k: 5, alpha: alpha, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                           b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, Arithmetic.self)
    default: shallowProduct(m: m, n: n, k: 6, alpha: alpha, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                            b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, Arithmetic.self)
    }
}

/// ``directShallowProduct``'s loops for a depth `k` that is a constant after inlining.
@inlinable @inline(__always)
func shallowProduct<Arithmetic: VectorArithmetic>(
    m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
    b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, _: Arithmetic.Type
) {
    typealias Vector = SIMD16<Float>
    let scaled = alpha != 1
    let scale = Vector(repeating: alpha)
    let betas = Vector(repeating: beta)
    let accumulate = beta != 0
    let rowBytes = ldb * 4
    var column = 0
    while column < n {
        let vectors = min(4, (n - column) / 16)
        let line = UnsafeRawPointer(b + column)
        let b00 = loadVector(true, line, 0), b01 = loadVector(vectors > 1, line, 64)
        let b02 = loadVector(vectors > 2, line, 128), b03 = loadVector(vectors > 3, line, 192)
        let b10 = loadVector(k > 1, line, rowBytes), b11 = loadVector(k > 1 && vectors > 1, line, rowBytes + 64)
        let b12 = loadVector(k > 1 && vectors > 2, line, rowBytes + 128)
        let b13 = loadVector(k > 1 && vectors > 3, line, rowBytes + 192)
        let b20 = loadVector(k > 2, line, 2 * rowBytes), b21 = loadVector(k > 2 && vectors > 1, line, 2 * rowBytes + 64)
        let b22 = loadVector(k > 2 && vectors > 2, line, 2 * rowBytes + 128)
        let b23 = loadVector(k > 2 && vectors > 3, line, 2 * rowBytes + 192)
        let b30 = loadVector(k > 3, line, 3 * rowBytes), b31 = loadVector(k > 3 && vectors > 1, line, 3 * rowBytes + 64)
        let b32 = loadVector(k > 3 && vectors > 2, line, 3 * rowBytes + 128)
        let b33 = loadVector(k > 3 && vectors > 3, line, 3 * rowBytes + 192)
        let b40 = loadVector(k > 4, line, 4 * rowBytes), b41 = loadVector(k > 4 && vectors > 1, line, 4 * rowBytes + 64)
        let b42 = loadVector(k > 4 && vectors > 2, line, 4 * rowBytes + 128)
        let b43 = loadVector(k > 4 && vectors > 3, line, 4 * rowBytes + 192)
        let b50 = loadVector(k > 5, line, 5 * rowBytes), b51 = loadVector(k > 5 && vectors > 1, line, 5 * rowBytes + 64)
        let b52 = loadVector(k > 5 && vectors > 2, line, 5 * rowBytes + 128)
        let b53 = loadVector(k > 5 && vectors > 3, line, 5 * rowBytes + 192)
        for row in 0..<m {
            let source = a + row * aRowStride
            // The first step multiplies (a multiply-add onto zero costs a register copy per vector as well): the
            // same values, but a product of -0 stays -0 where the tiles' sums from +0 give +0.
            let x0 = Vector(repeating: source[0])
            var sums = (x0 * b00, x0 * b01, x0 * b02, x0 * b03)
            // Nested, so that a shallower product tests once per row.
            if k > 1 {
                multiplyAddRow(Vector(repeating: source[aDepthStride]), b10, b11, b12, b13, into: &sums,
                               Arithmetic.self)
                if k > 2 {
                    multiplyAddRow(Vector(repeating: source[2 * aDepthStride]), b20, b21, b22, b23, into: &sums,
                                   Arithmetic.self)
                    if k > 3 {
                        multiplyAddRow(Vector(repeating: source[3 * aDepthStride]), b30, b31, b32, b33, into: &sums,
                                       Arithmetic.self)
                        if k > 4 {
                            multiplyAddRow(Vector(repeating: source[4 * aDepthStride]), b40, b41, b42, b43,
                                           into: &sums, Arithmetic.self)
                            if k > 5 {
                                multiplyAddRow(Vector(repeating: source[5 * aDepthStride]), b50, b51, b52, b53,
                                               into: &sums, Arithmetic.self)
                            }
                        }
                    }
                }
            }
            if scaled { sums = (sums.0 * scale, sums.1 * scale, sums.2 * scale, sums.3 * scale) }
            let (sum0, sum1, sum2, sum3) = sums
            let target = UnsafeMutableRawPointer(c + row * ldc + column)
            if accumulate {
                storeSum(sum0, to: target, at: 0, betas: betas, accumulate: true)
                if vectors > 1 { storeSum(sum1, to: target, at: 64, betas: betas, accumulate: true) }
                if vectors > 2 { storeSum(sum2, to: target, at: 128, betas: betas, accumulate: true) }
                if vectors > 3 { storeSum(sum3, to: target, at: 192, betas: betas, accumulate: true) }
            } else {
                storeSum(sum0, to: target, at: 0, betas: betas, accumulate: false)
                if vectors > 1 { storeSum(sum1, to: target, at: 64, betas: betas, accumulate: false) }
                if vectors > 2 { storeSum(sum2, to: target, at: 128, betas: betas, accumulate: false) }
                if vectors > 3 { storeSum(sum3, to: target, at: 192, betas: betas, accumulate: false) }
            }
        }
        column += vectors * 16
    }
}

/// Adds `x` times one depth step's four vectors of `B` to four sums (``directShallowProduct``).
@inlinable @inline(__always)
func multiplyAddRow<Arithmetic: VectorArithmetic>(
    _ x: SIMD16<Float>, _ b0: SIMD16<Float>, _ b1: SIMD16<Float>, _ b2: SIMD16<Float>, _ b3: SIMD16<Float>,
    into sums: inout (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>), _: Arithmetic.Type
) {
    sums.0 = Arithmetic.multiplyAdd(x, b0, sums.0)
    sums.1 = Arithmetic.multiplyAdd(x, b1, sums.1)
    sums.2 = Arithmetic.multiplyAdd(x, b2, sums.2)
    sums.3 = Arithmetic.multiplyAdd(x, b3, sums.3)
}

/// The vector at `byteOffset` of `line` when `present`, else zeros (nothing is read).
@inlinable @inline(__always)
func loadVector(_ present: Bool, _ line: UnsafeRawPointer, _ byteOffset: Int) -> SIMD16<Float> {
    present ? line.loadUnaligned(fromByteOffset: byteOffset, as: SIMD16<Float>.self) : SIMD16<Float>()
}

/// Stores `sum` at `byteOffset` of a row of C, plus `betas` times what was there when `accumulate` (C is not read
/// otherwise, so NaN in C cannot leak into a product with `beta` 0).
@inlinable @inline(__always)
func storeSum(
    _ sum: SIMD16<Float>, to line: UnsafeMutableRawPointer, at byteOffset: Int, betas: SIMD16<Float>, accumulate: Bool
) {
    let value = accumulate
        ? sum.addingProduct(betas, line.loadUnaligned(fromByteOffset: byteOffset, as: SIMD16<Float>.self)) : sum
    line.storeBytes(of: value, toByteOffset: byteOffset, as: SIMD16<Float>.self)
}

/// A block of 64 columns of ``directProduct(wide:m:n:k:alpha:a:aRowStride:aDepthStride:b:ldb:beta:c:ldc:edgeSliver:rowInvariant:_:)``
/// down all `m` rows, six at a time (a last single row by ``directRow``). Each block shape is a function of its
/// own, kept out of line (still specialised and compiled for each instruction set) so that its loop has the
/// registers to itself: inlined into one function, the tiles spilled their loop counters and ran at a third of the
/// speed. The row loop is inside, so a product of few depth steps pays one call per block, not one per tile.
@inlinable @inline(never)
func directRows6x64<Arithmetic: VectorArithmetic>(
    m: Int, depth: Int, a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int, b: UnsafePointer<Float>,
    ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float, rowInvariant: Bool,
    _: Arithmetic.Type
) {
    for row in stride(from: 0, to: m, by: 6) {
        let rows = min(6, m - row)
        if rows == 1 && !rowInvariant {
            directRow(vectors: 4, depth: depth, a: a + row * aRowStride, aDepthStride: aDepthStride, b: b, ldb: ldb,
                      c: c + row * ldc, alpha: alpha, beta: beta, columns: 64, Arithmetic.self)
        } else if rows <= 4 {
            directTile6x64(depth: depth, a: a + row * aRowStride, aRowStride: aRowStride, aDepthStride: aDepthStride,
                           b: b, ldb: ldb, c: c + row * ldc, ldc: ldc, alpha: alpha, beta: beta, rows: rows,
                           FourRows.self, Arithmetic.self)
        } else {
            directTile6x64(depth: depth, a: a + row * aRowStride, aRowStride: aRowStride, aDepthStride: aDepthStride,
                           b: b, ldb: ldb, c: c + row * ldc, ldc: ldc, alpha: alpha, beta: beta, rows: rows,
                           SixRows.self, Arithmetic.self)
        }
    }
}

/// A block of 16 columns (`columns` of them stored) down all `m` rows: as ``directRows6x64``. With `rowInvariant`
/// a row left alone takes the four-row tile (see ``directProduct(wide:m:n:k:alpha:a:aRowStride:aDepthStride:b:ldb:beta:c:ldc:edgeSliver:rowInvariant:_:)``).
@inlinable @inline(never)
func directRows6x16<Arithmetic: VectorArithmetic>(
    m: Int, depth: Int, a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int, b: UnsafePointer<Float>,
    ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float, columns: Int,
    rowInvariant: Bool, _: Arithmetic.Type
) {
    for row in stride(from: 0, to: m, by: 6) {
        let rows = min(6, m - row)
        if rows == 1 && !rowInvariant {
            directRow(vectors: 1, depth: depth, a: a + row * aRowStride, aDepthStride: aDepthStride, b: b, ldb: ldb,
                      c: c + row * ldc, alpha: alpha, beta: beta, columns: columns, Arithmetic.self)
        } else if rows <= 4 {
            directTile6x16(depth: depth, a: a + row * aRowStride, aRowStride: aRowStride, aDepthStride: aDepthStride,
                           b: b, ldb: ldb, c: c + row * ldc, ldc: ldc, alpha: alpha, beta: beta, rows: rows,
                           columns: columns, FourRows.self, Arithmetic.self)
        } else {
            directTile6x16(depth: depth, a: a + row * aRowStride, aRowStride: aRowStride, aDepthStride: aDepthStride,
                           b: b, ldb: ldb, c: c + row * ldc, ldc: ldc, alpha: alpha, beta: beta, rows: rows,
                           columns: columns, SixRows.self, Arithmetic.self)
        }
    }
}

/// One row (a one-example batch, or the row left over from the six-row tiles). Alone, each output's sum over the depth
/// is one chain of dependent multiply-adds, so the depth is split: even and odd steps into separate sums with four
/// vectors, four interleaved sums with one, added at the end (faster when `B`'s rows are on cache lines; rows
/// straddling lines are bound by their split loads either way). The order differs
/// from the tiles', so a row's last bits can depend on whether it came alone (see `MultilayerPerceptron`).
@inlinable @inline(never)
func directRow<Arithmetic: VectorArithmetic>(
    vectors: Int, depth: Int, a: UnsafePointer<Float>, aDepthStride: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, alpha: Float, beta: Float, columns: Int, _: Arithmetic.Type
) {
    typealias Vector = SIMD16<Float>
    let bRaw = UnsafeRawPointer(b)
    let rowBytes = ldb * 4
    if vectors == 4 {
        var even = (Vector(), Vector(), Vector(), Vector()), odd = (Vector(), Vector(), Vector(), Vector())
        var p = 0
        while p + 1 < depth {
            let line = p * rowBytes
            multiplyAddRow(Vector(repeating: a[p * aDepthStride]), bRaw, line, into: &even, Arithmetic.self)
            multiplyAddRow(Vector(repeating: a[(p + 1) * aDepthStride]), bRaw, line + rowBytes, into: &odd,
                           Arithmetic.self)
            p += 2
        }
        if p < depth {
            multiplyAddRow(Vector(repeating: a[p * aDepthStride]), bRaw, p * rowBytes, into: &even, Arithmetic.self)
        }
        storeRow(even.0 + odd.0, even.1 + odd.1, even.2 + odd.2, even.3 + odd.3, to: c, alpha: alpha, beta: beta)
    } else {
        var sums = (Vector(), Vector(), Vector(), Vector())
        var p = 0
        while p + 3 < depth {
            sums.0 = multiplyAddStep(p, a, aDepthStride, bRaw, rowBytes, to: sums.0, Arithmetic.self)
            sums.1 = multiplyAddStep(p + 1, a, aDepthStride, bRaw, rowBytes, to: sums.1, Arithmetic.self)
            sums.2 = multiplyAddStep(p + 2, a, aDepthStride, bRaw, rowBytes, to: sums.2, Arithmetic.self)
            sums.3 = multiplyAddStep(p + 3, a, aDepthStride, bRaw, rowBytes, to: sums.3, Arithmetic.self)
            p += 4
        }
        while p < depth {
            sums.0 = multiplyAddStep(p, a, aDepthStride, bRaw, rowBytes, to: sums.0, Arithmetic.self)
            p += 1
        }
        storeVector((sums.0 + sums.1) + (sums.2 + sums.3), to: c, alpha: alpha, beta: beta, columns: columns)
    }
}

/// Adds depth step `p` of a 16-column row, `a[p]` times the first vector of row `p` of `b`, to `sum`.
@inlinable @inline(__always)
func multiplyAddStep<Arithmetic: VectorArithmetic>(
    _ p: Int, _ a: UnsafePointer<Float>, _ aDepthStride: Int, _ b: UnsafeRawPointer, _ rowBytes: Int,
    to sum: SIMD16<Float>, _: Arithmetic.Type
) -> SIMD16<Float> {
    let row = b.loadUnaligned(fromByteOffset: p * rowBytes, as: SIMD16<Float>.self)
    return Arithmetic.multiplyAdd(SIMD16(repeating: a[p * aDepthStride]), row, sum)
}

/// Adds `x` times the four vectors at `byteOffset` of `b` (one depth step of a 64-column row) to four sums.
@inlinable @inline(__always)
func multiplyAddRow<Arithmetic: VectorArithmetic>(
    _ x: SIMD16<Float>, _ b: UnsafeRawPointer, _ byteOffset: Int,
    into sums: inout (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>), _: Arithmetic.Type
) {
    multiplyAddRow(
        x, b.loadUnaligned(fromByteOffset: byteOffset, as: SIMD16<Float>.self),
        b.loadUnaligned(fromByteOffset: byteOffset + 64, as: SIMD16<Float>.self),
        b.loadUnaligned(fromByteOffset: byteOffset + 128, as: SIMD16<Float>.self),
        b.loadUnaligned(fromByteOffset: byteOffset + 192, as: SIMD16<Float>.self), into: &sums, Arithmetic.self)
}

/// The rows a direct tile computes, as a type: each count is a specialisation of its own in which the count is a
/// constant. (As an argument it was not: the optimiser kept the AVX2 tile out of line with both counts, spilled its
/// sums and ran at half speed.)
public protocol DirectTileRows {
    static var count: Int { get }
}

public enum SixRows: DirectTileRows {
    @inlinable public static var count: Int { 6 }
}

public enum FourRows: DirectTileRows {
    @inlinable public static var count: Int { 4 }
}

/// Six rows by 64 columns: 24 sums in registers (AVX-512's 32), stored to C straight from them. With `FourRows` it is
/// a four-row tile, for the last two to four rows: 64 rows are ten tiles of six and one of four, not eleven of six
/// (3% of the FMAs for nothing).
@inlinable @inline(__always)
func directTile6x64<Arithmetic: VectorArithmetic, Rows: DirectTileRows>(
    depth: Int, a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
    b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float,
    rows: Int, _: Rows.Type, _: Arithmetic.Type
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
        // A constant in each specialisation: the four-row tile has no fifth and sixth rows at all.
        guard Rows.count > 4 else { continue }
        x = Vector(repeating: a4[offset])
        c40 = Arithmetic.multiplyAdd(x, b0, c40); c41 = Arithmetic.multiplyAdd(x, b1, c41)
        c42 = Arithmetic.multiplyAdd(x, b2, c42); c43 = Arithmetic.multiplyAdd(x, b3, c43)
        x = Vector(repeating: a5[offset])
        c50 = Arithmetic.multiplyAdd(x, b0, c50); c51 = Arithmetic.multiplyAdd(x, b1, c51)
        c52 = Arithmetic.multiplyAdd(x, b2, c52); c53 = Arithmetic.multiplyAdd(x, b3, c53)
    }
    // Straight from the registers to C, the rows that exist (through a buffer, an edge tile of a 64-row product
    // cost as much as two whole tiles).
    storeRow(c00, c01, c02, c03, to: c, alpha: alpha, beta: beta)
    guard rows > 1 else { return }
    storeRow(c10, c11, c12, c13, to: c + 1 * ldc, alpha: alpha, beta: beta)
    guard rows > 2 else { return }
    storeRow(c20, c21, c22, c23, to: c + 2 * ldc, alpha: alpha, beta: beta)
    guard rows > 3 else { return }
    storeRow(c30, c31, c32, c33, to: c + 3 * ldc, alpha: alpha, beta: beta)
    guard rows > 4 else { return }
    storeRow(c40, c41, c42, c43, to: c + 4 * ldc, alpha: alpha, beta: beta)
    guard rows > 5 else { return }
    storeRow(c50, c51, c52, c53, to: c + 5 * ldc, alpha: alpha, beta: beta)
}

/// Six rows by 16 columns (four with `FourRows`, as ``directTile6x64``).
@inlinable @inline(__always)
func directTile6x16<Arithmetic: VectorArithmetic, Rows: DirectTileRows>(
    depth: Int, a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
    b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float,
    rows: Int, columns: Int, _: Rows.Type, _: Arithmetic.Type
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
    var c0 = Vector(), c1 = Vector(), c2 = Vector(), c3 = Vector(), c4 = Vector(), c5 = Vector()
    for p in 0..<depth {
        let b0 = bRaw.loadUnaligned(fromByteOffset: p * ldb * 4, as: Vector.self)
        let offset = p * aDepthStride
        c0 = Arithmetic.multiplyAdd(Vector(repeating: a0[offset]), b0, c0)
        c1 = Arithmetic.multiplyAdd(Vector(repeating: a1[offset]), b0, c1)
        c2 = Arithmetic.multiplyAdd(Vector(repeating: a2[offset]), b0, c2)
        c3 = Arithmetic.multiplyAdd(Vector(repeating: a3[offset]), b0, c3)
        guard Rows.count > 4 else { continue }
        c4 = Arithmetic.multiplyAdd(Vector(repeating: a4[offset]), b0, c4)
        c5 = Arithmetic.multiplyAdd(Vector(repeating: a5[offset]), b0, c5)
    }
    // Straight from the registers (a staging buffer cost most of a short product), the rows that exist.
    storeVector(c0, to: c, alpha: alpha, beta: beta, columns: columns)
    guard rows > 1 else { return }
    storeVector(c1, to: c + 1 * ldc, alpha: alpha, beta: beta, columns: columns)
    guard rows > 2 else { return }
    storeVector(c2, to: c + 2 * ldc, alpha: alpha, beta: beta, columns: columns)
    guard rows > 3 else { return }
    storeVector(c3, to: c + 3 * ldc, alpha: alpha, beta: beta, columns: columns)
    guard rows > 4 else { return }
    storeVector(c4, to: c + 4 * ldc, alpha: alpha, beta: beta, columns: columns)
    guard rows > 5 else { return }
    storeVector(c5, to: c + 5 * ldc, alpha: alpha, beta: beta, columns: columns)
}

/// Stores one vector of sums as the first `columns` (at most 16) columns of a row of C, `alpha * sums + beta * C`,
/// without a buffer (no closure: see `AVX512Arithmetic` on why kernel code must not leave a non-generic function
/// behind). The sums are always multiplied by `alpha`: exact when it is 1, and a multiply costs less than a test
/// and two branches per vector.
@inlinable @inline(__always)
func storeVector(_ value: SIMD16<Float>, to row: UnsafeMutablePointer<Float>, alpha: Float, beta: Float, columns: Int) {
    let scaled = value * SIMD16(repeating: alpha)
    let raw = UnsafeMutableRawPointer(row)
    if columns == 16 {
        let result = beta == 0
            ? scaled : scaled.addingProduct(SIMD16(repeating: beta), raw.loadUnaligned(as: SIMD16<Float>.self))
        raw.storeBytes(of: result, as: SIMD16<Float>.self)
    } else {
        for lane in 0..<columns { row[lane] = beta == 0 ? scaled[lane] : scaled[lane] + beta * row[lane] }
    }
}

/// Stores four vectors of sums as 64 columns of one row of C: `alpha * sums + beta * C` (C not read when `beta`
/// is 0).
@inlinable @inline(__always)
func storeRow(
    _ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ v2: SIMD16<Float>, _ v3: SIMD16<Float>,
    to row: UnsafeMutablePointer<Float>, alpha: Float, beta: Float
) {
    storeVector(v0, to: row, alpha: alpha, beta: beta, columns: 16)
    storeVector(v1, to: row + 16, alpha: alpha, beta: beta, columns: 16)
    storeVector(v2, to: row + 32, alpha: alpha, beta: beta, columns: 16)
    storeVector(v3, to: row + 48, alpha: alpha, beta: beta, columns: 16)
}

/// `C = alpha * A * B^T + beta * C` for few rows of `A` (at most a few tiles' worth), without transposing `B`: each
/// element is a dot product of a row of `A` (row stride `lda`) and a row of `B` (row stride `ldb`), both contiguous,
/// so the vector lanes run along the depth. Sixteen sums at a time (two rows of `A` by eight of `B`) are folded
/// into one vector of sixteen results by ``foldSums(_:)``; the depth past the last whole 16 is added one by one.
/// The MLP's backward `dZ W^T` at a local batch of one to a few rows, where transposing `W` costs more than the
/// product. Rows or columns past the edge repeat the last one and are not stored. Two rows by eight columns per
/// block when `wide` (32 vector registers), an odd last row by sixteen (rather than paired with itself);
/// otherwise one row by eight columns in 8-lane vectors: sixteen 16-lane sums spill AVX2's sixteen registers (four
/// times the forward product of the same size), and with fewer columns per block the fold costs as much as the
/// products.
@inlinable @inline(__always)
public func transposedProduct<Arithmetic: VectorArithmetic>(
    wide: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
    ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, _ arithmetic: Arithmetic.Type
) {
    if wide {
        transposedBlocks2x8(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
                            arithmetic)
    } else {
        transposedBlocks1x8(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
                            arithmetic)
    }
}

/// Eight rows of `B` from row `first` (row stride `ldb`); past the `count` that exist, the last one again.
@inlinable @inline(__always)
func eightRows(
    of b: UnsafePointer<Float>, from first: Int, count: Int, ldb: Int
) -> (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
      UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) {
    let last = count - 1
    return (b + first * ldb, b + (first + min(1, last)) * ldb, b + (first + min(2, last)) * ldb,
            b + (first + min(3, last)) * ldb, b + (first + min(4, last)) * ldb, b + (first + min(5, last)) * ldb,
            b + (first + min(6, last)) * ldb, b + (first + min(7, last)) * ldb)
}

/// Two rows of `A` by eight of `B`: sixteen sums folded into one vector.
@inlinable @inline(never)
func transposedBlocks2x8<Arithmetic: VectorArithmetic>(
    m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, _: Arithmetic.Type
) {
    typealias Vector = SIMD16<Float>
    let wholeDepth = k / 16 * 16
    if m % 2 == 1 {
        // The last row of an odd count, alone: as a pair with itself it cost as much as two.
        transposedRow1x16(n: n, k: k, alpha: alpha, a: a + (m - 1) * lda, b: b, ldb: ldb, beta: beta,
                          c: c + (m - 1) * ldc, Arithmetic.self)
    }
    for row in stride(from: 0, to: m - 1, by: 2) {
        let rows = 2
        let aRows = (a + row * lda, a + (row + 1) * lda)
        for column in stride(from: 0, to: n, by: 8) {
            let columns = min(8, n - column)
            let (b0, b1, b2, b3, b4, b5, b6, b7) = eightRows(of: b, from: column, count: columns, ldb: ldb)
            var s00 = Vector(), s01 = Vector(), s02 = Vector(), s03 = Vector()
            var s04 = Vector(), s05 = Vector(), s06 = Vector(), s07 = Vector()
            var s10 = Vector(), s11 = Vector(), s12 = Vector(), s13 = Vector()
            var s14 = Vector(), s15 = Vector(), s16 = Vector(), s17 = Vector()
            for p in stride(from: 0, to: wholeDepth, by: 16) {
                let x0 = UnsafeRawPointer(aRows.0 + p).loadUnaligned(as: Vector.self)
                let x1 = UnsafeRawPointer(aRows.1 + p).loadUnaligned(as: Vector.self)
                let y0 = UnsafeRawPointer(b0 + p).loadUnaligned(as: Vector.self)
                s00 = Arithmetic.multiplyAdd(x0, y0, s00)
                s10 = Arithmetic.multiplyAdd(x1, y0, s10)
                let y1 = UnsafeRawPointer(b1 + p).loadUnaligned(as: Vector.self)
                s01 = Arithmetic.multiplyAdd(x0, y1, s01)
                s11 = Arithmetic.multiplyAdd(x1, y1, s11)
                let y2 = UnsafeRawPointer(b2 + p).loadUnaligned(as: Vector.self)
                s02 = Arithmetic.multiplyAdd(x0, y2, s02)
                s12 = Arithmetic.multiplyAdd(x1, y2, s12)
                let y3 = UnsafeRawPointer(b3 + p).loadUnaligned(as: Vector.self)
                s03 = Arithmetic.multiplyAdd(x0, y3, s03)
                s13 = Arithmetic.multiplyAdd(x1, y3, s13)
                let y4 = UnsafeRawPointer(b4 + p).loadUnaligned(as: Vector.self)
                s04 = Arithmetic.multiplyAdd(x0, y4, s04)
                s14 = Arithmetic.multiplyAdd(x1, y4, s14)
                let y5 = UnsafeRawPointer(b5 + p).loadUnaligned(as: Vector.self)
                s05 = Arithmetic.multiplyAdd(x0, y5, s05)
                s15 = Arithmetic.multiplyAdd(x1, y5, s15)
                let y6 = UnsafeRawPointer(b6 + p).loadUnaligned(as: Vector.self)
                s06 = Arithmetic.multiplyAdd(x0, y6, s06)
                s16 = Arithmetic.multiplyAdd(x1, y6, s16)
                let y7 = UnsafeRawPointer(b7 + p).loadUnaligned(as: Vector.self)
                s07 = Arithmetic.multiplyAdd(x0, y7, s07)
                s17 = Arithmetic.multiplyAdd(x1, y7, s17)
            }
            withUnsafeTemporaryAllocation(of: Vector.self, capacity: 16) { sums in
                sums.initializeElement(at: 0, to: s00)
                sums.initializeElement(at: 1, to: s01)
                sums.initializeElement(at: 2, to: s02)
                sums.initializeElement(at: 3, to: s03)
                sums.initializeElement(at: 4, to: s04)
                sums.initializeElement(at: 5, to: s05)
                sums.initializeElement(at: 6, to: s06)
                sums.initializeElement(at: 7, to: s07)
                sums.initializeElement(at: 8, to: s10)
                sums.initializeElement(at: 9, to: s11)
                sums.initializeElement(at: 10, to: s12)
                sums.initializeElement(at: 11, to: s13)
                sums.initializeElement(at: 12, to: s14)
                sums.initializeElement(at: 13, to: s15)
                sums.initializeElement(at: 14, to: s16)
                sums.initializeElement(at: 15, to: s17)
                let folded = foldSums(sums)
                if columns == 8 && wholeDepth == k {
                    // Eight whole columns and no depth left over: each row's eight results in one store.
                    for i in 0..<rows {
                        let raw = UnsafeMutableRawPointer(c + (row + i) * ldc + column)
                        var result = alpha * (i == 0 ? folded.lowHalf : folded.highHalf)
                        if beta != 0 { result += beta * raw.loadUnaligned(as: SIMD8<Float>.self) }
                        raw.storeBytes(of: result, as: SIMD8<Float>.self)
                    }
                    return
                }
                for i in 0..<rows {
                    for j in 0..<columns {
                        storeDotProduct(folded[i * 8 + j], a: i == 0 ? aRows.0 : aRows.1, b: b + (column + j) * ldb,
                                        from: wholeDepth, to: k, alpha: alpha, beta: beta,
                                        c: c + (row + i) * ldc + column + j)
                    }
                }
            }
        }
    }
}

/// One row of `A` by sixteen of `B`: sixteen sums folded into one vector of sixteen results (the fold is shared by
/// sixteen results, as in the two-row blocks). A one-row `A B^T` (the deltas of a one-example step) is only this.
@inlinable @inline(never)
func transposedRow1x16<Arithmetic: VectorArithmetic>(
    n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int, beta: Float,
    c: UnsafeMutablePointer<Float>, _: Arithmetic.Type
) {
    typealias Vector = SIMD16<Float>
    let wholeDepth = k / 16 * 16
    for column in stride(from: 0, to: n, by: 16) {
        let columns = min(16, n - column)
        let (b0, b1, b2, b3, b4, b5, b6, b7) = eightRows(of: b, from: column, count: min(columns, 8), ldb: ldb)
        // Past the columns that exist, the last one again.
        let (b8, b9, b10, b11, b12, b13, b14, b15) = eightRows(
            of: b, from: column + min(8, columns - 1), count: max(columns - 8, 1), ldb: ldb)
        var s0 = Vector(), s1 = Vector(), s2 = Vector(), s3 = Vector(), s4 = Vector(), s5 = Vector()
        var s6 = Vector(), s7 = Vector(), s8 = Vector(), s9 = Vector(), s10 = Vector(), s11 = Vector()
        var s12 = Vector(), s13 = Vector(), s14 = Vector(), s15 = Vector()
        for p in stride(from: 0, to: wholeDepth, by: 16) {
            let x = UnsafeRawPointer(a + p).loadUnaligned(as: Vector.self)
            s0 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b0 + p).loadUnaligned(as: Vector.self), s0)
            s1 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b1 + p).loadUnaligned(as: Vector.self), s1)
            s2 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b2 + p).loadUnaligned(as: Vector.self), s2)
            s3 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b3 + p).loadUnaligned(as: Vector.self), s3)
            s4 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b4 + p).loadUnaligned(as: Vector.self), s4)
            s5 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b5 + p).loadUnaligned(as: Vector.self), s5)
            s6 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b6 + p).loadUnaligned(as: Vector.self), s6)
            s7 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b7 + p).loadUnaligned(as: Vector.self), s7)
            s8 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b8 + p).loadUnaligned(as: Vector.self), s8)
            s9 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b9 + p).loadUnaligned(as: Vector.self), s9)
            s10 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b10 + p).loadUnaligned(as: Vector.self), s10)
            s11 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b11 + p).loadUnaligned(as: Vector.self), s11)
            s12 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b12 + p).loadUnaligned(as: Vector.self), s12)
            s13 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b13 + p).loadUnaligned(as: Vector.self), s13)
            s14 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b14 + p).loadUnaligned(as: Vector.self), s14)
            s15 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b15 + p).loadUnaligned(as: Vector.self), s15)
        }
        withUnsafeTemporaryAllocation(of: Vector.self, capacity: 16) { sums in
            sums.initializeElement(at: 0, to: s0)
            sums.initializeElement(at: 1, to: s1)
            sums.initializeElement(at: 2, to: s2)
            sums.initializeElement(at: 3, to: s3)
            sums.initializeElement(at: 4, to: s4)
            sums.initializeElement(at: 5, to: s5)
            sums.initializeElement(at: 6, to: s6)
            sums.initializeElement(at: 7, to: s7)
            sums.initializeElement(at: 8, to: s8)
            sums.initializeElement(at: 9, to: s9)
            sums.initializeElement(at: 10, to: s10)
            sums.initializeElement(at: 11, to: s11)
            sums.initializeElement(at: 12, to: s12)
            sums.initializeElement(at: 13, to: s13)
            sums.initializeElement(at: 14, to: s14)
            sums.initializeElement(at: 15, to: s15)
            let folded = foldSums(sums)
            if columns == 16 && wholeDepth == k {
                let raw = UnsafeMutableRawPointer(c + column)
                var result = alpha * folded
                if beta != 0 { result += beta * raw.loadUnaligned(as: Vector.self) }
                raw.storeBytes(of: result, as: Vector.self)
                return
            }
            for j in 0..<columns {
                storeDotProduct(folded[j], a: a, b: b + (column + j) * ldb, from: wholeDepth, to: k, alpha: alpha,
                                beta: beta, c: c + column + j)
            }
        }
    }
}

/// One row of `A` by eight of `B` in 8-lane vectors: eight sums (eight ymm registers with AVX2) folded into one
/// vector of eight results, so the fold is shared by eight results as in the wide blocks.
@inlinable @inline(never)
func transposedBlocks1x8<Arithmetic: VectorArithmetic>(
    m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, _: Arithmetic.Type
) {
    typealias Vector = SIMD8<Float>
    let wholeDepth = k / 8 * 8
    for row in 0..<m {
        let aRow = a + row * lda
        for column in stride(from: 0, to: n, by: 8) {
            let columns = min(8, n - column)
            let (b0, b1, b2, b3, b4, b5, b6, b7) = eightRows(of: b, from: column, count: columns, ldb: ldb)
            var s0 = Vector(), s1 = Vector(), s2 = Vector(), s3 = Vector()
            var s4 = Vector(), s5 = Vector(), s6 = Vector(), s7 = Vector()
            for p in stride(from: 0, to: wholeDepth, by: 8) {
                let x = UnsafeRawPointer(aRow + p).loadUnaligned(as: Vector.self)
                s0 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b0 + p).loadUnaligned(as: Vector.self), s0)
                s1 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b1 + p).loadUnaligned(as: Vector.self), s1)
                s2 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b2 + p).loadUnaligned(as: Vector.self), s2)
                s3 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b3 + p).loadUnaligned(as: Vector.self), s3)
                s4 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b4 + p).loadUnaligned(as: Vector.self), s4)
                s5 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b5 + p).loadUnaligned(as: Vector.self), s5)
                s6 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b6 + p).loadUnaligned(as: Vector.self), s6)
                s7 = Arithmetic.multiplyAdd(x, UnsafeRawPointer(b7 + p).loadUnaligned(as: Vector.self), s7)
            }
            let folded = foldEight(
                foldEight(foldEight(s0, s1), foldEight(s2, s3)), foldEight(foldEight(s4, s5), foldEight(s6, s7)))
            let target = c + row * ldc + column
            if columns == 8 && wholeDepth == k {
                let raw = UnsafeMutableRawPointer(target)
                var result = alpha * folded
                if beta != 0 { result += beta * raw.loadUnaligned(as: Vector.self) }
                raw.storeBytes(of: result, as: Vector.self)
                continue
            }
            for j in 0..<columns {
                storeDotProduct(folded[j], a: aRow, b: b + (column + j) * ldb, from: wholeDepth, to: k, alpha: alpha,
                                beta: beta, c: target + j)
            }
        }
    }
}

/// Finishes one dot product (`sum` over the depth before `start`, the rest added one by one) and stores
/// `alpha * total + beta * C` (C not read when `beta` is 0).
@inlinable @inline(__always)
func storeDotProduct(
    _ sum: Float, a: UnsafePointer<Float>, b: UnsafePointer<Float>, from start: Int, to depth: Int, alpha: Float,
    beta: Float, c: UnsafeMutablePointer<Float>
) {
    var total = sum
    for p in start..<depth { total += a[p] * b[p] }
    c.pointee = beta == 0 ? alpha * total : alpha * total + beta * c.pointee
}

/// One round of folding two vectors of partial sums: the low half holds `x`'s lanes added in neighbouring pairs,
/// the high half `y`'s. Three rounds over eight vectors leave lane `j` holding the sum of vector `j`'s lanes.
@inlinable @inline(__always)
func foldEight(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(lowHalf: x.evenHalf, highHalf: y.evenHalf) + SIMD8(lowHalf: x.oddHalf, highHalf: y.oddHalf)
}

/// Lane `j` of the result is the sum of the lanes of `sums[j]`: four rounds of adding neighbouring lanes, each
/// round packing the partial sums of two vectors into one (two permutes and an add per pair).
@inlinable @inline(__always)
public func foldSums(_ sums: UnsafeMutableBufferPointer<SIMD16<Float>>) -> SIMD16<Float> {
    var count = 16
    while count > 1 {
        for pair in 0..<(count / 2) {
            let x = sums[2 * pair], y = sums[2 * pair + 1]
            sums[pair] = SIMD16(lowHalf: x.evenHalf, highHalf: y.evenHalf)
                + SIMD16(lowHalf: x.oddHalf, highHalf: y.oddHalf)
        }
        count /= 2
    }
    return sums[0]
}
