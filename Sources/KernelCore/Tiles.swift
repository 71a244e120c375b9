import CKernelSupport

// The GEMM's register tiles, written once here and compiled once per instruction set: each is `@inlinable`, so the
// per-ISA modules (`KernelsAVX512`, `KernelsAVX2`, `KernelsPortable`) inline it into their own entry points and
// compile it for their own instruction set (`kernelSettings` in Package.swift). This module itself is built for the baseline CPU and never runs these
// bodies. A tile computes `C[0..<rows, 0..<columns] = A_sliver * B_sliver + beta * C` over `depth` steps from packed
// slivers: A holds `rows` values per depth step, B `columns` values; edge tiles compute the whole tile from
// zero-padded slivers and store only their valid part.

/// 6 x 16: six `SIMD16<Float>` accumulators (twelve ymm registers with AVX2, twenty-four xmm on the baseline),
/// two loads per twelve 8-lane FMAs: the largest tile that fits AVX2's 16 registers.
@inlinable @inline(__always)
public func tile6x16<Arithmetic: VectorArithmetic>(
    depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    beta: Float, rows validRows: Int, columns validColumns: Int, _: Arithmetic.Type
) {
    typealias Vector = SIMD16<Float>
    let rows = 6
    let columns = 16
    if beta != 0 {
        // C is read only at the end; ask for its lines now so the load does not stall the store.
        for row in 0..<rows {
            kernels_prefetch_for_write(c + row * ldc)
            kernels_prefetch_for_write(c + row * ldc + columns - 1)
        }
    }
    var c0_0 = Vector(), c1_0 = Vector(), c2_0 = Vector(), c3_0 = Vector(), c4_0 = Vector(), c5_0 = Vector()
    let bRaw = UnsafeRawPointer(b)
    var aSliver = a
    for p in 0..<depth {
        let b0 = bRaw.loadUnaligned(fromByteOffset: p * columns * 4, as: Vector.self)
        let a0 = Vector(repeating: aSliver[0])
        c0_0 = Arithmetic.multiplyAdd(a0, b0, c0_0)
        let a1 = Vector(repeating: aSliver[1])
        c1_0 = Arithmetic.multiplyAdd(a1, b0, c1_0)
        let a2 = Vector(repeating: aSliver[2])
        c2_0 = Arithmetic.multiplyAdd(a2, b0, c2_0)
        let a3 = Vector(repeating: aSliver[3])
        c3_0 = Arithmetic.multiplyAdd(a3, b0, c3_0)
        let a4 = Vector(repeating: aSliver[4])
        c4_0 = Arithmetic.multiplyAdd(a4, b0, c4_0)
        let a5 = Vector(repeating: aSliver[5])
        c5_0 = Arithmetic.multiplyAdd(a5, b0, c5_0)
        aSliver += rows
    }
    if validRows == rows && validColumns == columns {
        // A whole tile stores from its registers (the staging below is for edge tiles).
        storeVector(c0_0, to: c, alpha: 1, beta: beta, columns: 16)
        storeVector(c1_0, to: c + ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c2_0, to: c + 2 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c3_0, to: c + 3 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c4_0, to: c + 4 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c5_0, to: c + 5 * ldc, alpha: 1, beta: beta, columns: 16)
        return
    }
    withUnsafeTemporaryAllocation(of: Vector.self, capacity: rows * 1) { tile in
        tile.initializeElement(at: 0, to: c0_0)
        tile.initializeElement(at: 1, to: c1_0)
        tile.initializeElement(at: 2, to: c2_0)
        tile.initializeElement(at: 3, to: c3_0)
        tile.initializeElement(at: 4, to: c4_0)
        tile.initializeElement(at: 5, to: c5_0)
        storeTile(tile, vectorsPerRow: 1, c: c, ldc: ldc, beta: beta, rows: validRows,
                  columns: validColumns)
    }
}

/// 12 x 32: twenty-four `SIMD16<Float>` accumulators (24 of AVX-512's 32 zmm registers), two loads and twelve
/// broadcasts per 24 FMAs: enough independent FMAs to cover the latency of two 512-bit FMA pipes.
@inlinable @inline(__always)
public func tile12x32<Arithmetic: VectorArithmetic>(
    depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    beta: Float, rows validRows: Int, columns validColumns: Int, _: Arithmetic.Type
) {
    typealias Vector = SIMD16<Float>
    let rows = 12
    let columns = 32
    if beta != 0 {
        // C is read only at the end; ask for its lines now so the load does not stall the store.
        for row in 0..<rows {
            kernels_prefetch_for_write(c + row * ldc)
            kernels_prefetch_for_write(c + row * ldc + columns - 1)
        }
    }
    var c0_0 = Vector(), c0_1 = Vector(), c1_0 = Vector(), c1_1 = Vector(), c2_0 = Vector(), c2_1 = Vector()
    var c3_0 = Vector(), c3_1 = Vector(), c4_0 = Vector(), c4_1 = Vector(), c5_0 = Vector(), c5_1 = Vector()
    var c6_0 = Vector(), c6_1 = Vector(), c7_0 = Vector(), c7_1 = Vector(), c8_0 = Vector(), c8_1 = Vector()
    var c9_0 = Vector(), c9_1 = Vector(), c10_0 = Vector(), c10_1 = Vector(), c11_0 = Vector(), c11_1 = Vector()
    let bRaw = UnsafeRawPointer(b)
    var aSliver = a
    for p in 0..<depth {
        let b0 = bRaw.loadUnaligned(fromByteOffset: p * columns * 4, as: Vector.self)
        let b1 = bRaw.loadUnaligned(fromByteOffset: p * columns * 4 + 64, as: Vector.self)
        let a0 = Vector(repeating: aSliver[0])
        c0_0 = Arithmetic.multiplyAdd(a0, b0, c0_0)
        c0_1 = Arithmetic.multiplyAdd(a0, b1, c0_1)
        let a1 = Vector(repeating: aSliver[1])
        c1_0 = Arithmetic.multiplyAdd(a1, b0, c1_0)
        c1_1 = Arithmetic.multiplyAdd(a1, b1, c1_1)
        let a2 = Vector(repeating: aSliver[2])
        c2_0 = Arithmetic.multiplyAdd(a2, b0, c2_0)
        c2_1 = Arithmetic.multiplyAdd(a2, b1, c2_1)
        let a3 = Vector(repeating: aSliver[3])
        c3_0 = Arithmetic.multiplyAdd(a3, b0, c3_0)
        c3_1 = Arithmetic.multiplyAdd(a3, b1, c3_1)
        let a4 = Vector(repeating: aSliver[4])
        c4_0 = Arithmetic.multiplyAdd(a4, b0, c4_0)
        c4_1 = Arithmetic.multiplyAdd(a4, b1, c4_1)
        let a5 = Vector(repeating: aSliver[5])
        c5_0 = Arithmetic.multiplyAdd(a5, b0, c5_0)
        c5_1 = Arithmetic.multiplyAdd(a5, b1, c5_1)
        let a6 = Vector(repeating: aSliver[6])
        c6_0 = Arithmetic.multiplyAdd(a6, b0, c6_0)
        c6_1 = Arithmetic.multiplyAdd(a6, b1, c6_1)
        let a7 = Vector(repeating: aSliver[7])
        c7_0 = Arithmetic.multiplyAdd(a7, b0, c7_0)
        c7_1 = Arithmetic.multiplyAdd(a7, b1, c7_1)
        let a8 = Vector(repeating: aSliver[8])
        c8_0 = Arithmetic.multiplyAdd(a8, b0, c8_0)
        c8_1 = Arithmetic.multiplyAdd(a8, b1, c8_1)
        let a9 = Vector(repeating: aSliver[9])
        c9_0 = Arithmetic.multiplyAdd(a9, b0, c9_0)
        c9_1 = Arithmetic.multiplyAdd(a9, b1, c9_1)
        let a10 = Vector(repeating: aSliver[10])
        c10_0 = Arithmetic.multiplyAdd(a10, b0, c10_0)
        c10_1 = Arithmetic.multiplyAdd(a10, b1, c10_1)
        let a11 = Vector(repeating: aSliver[11])
        c11_0 = Arithmetic.multiplyAdd(a11, b0, c11_0)
        c11_1 = Arithmetic.multiplyAdd(a11, b1, c11_1)
        aSliver += rows
    }
    if validRows == rows && validColumns == columns {
        // A whole tile stores from its registers (the staging below is for edge tiles).
        storeVector(c0_0, to: c, alpha: 1, beta: beta, columns: 16)
        storeVector(c0_1, to: c + 16, alpha: 1, beta: beta, columns: 16)
        storeVector(c1_0, to: c + ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c1_1, to: c + ldc + 16, alpha: 1, beta: beta, columns: 16)
        storeVector(c2_0, to: c + 2 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c2_1, to: c + 2 * ldc + 16, alpha: 1, beta: beta, columns: 16)
        storeVector(c3_0, to: c + 3 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c3_1, to: c + 3 * ldc + 16, alpha: 1, beta: beta, columns: 16)
        storeVector(c4_0, to: c + 4 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c4_1, to: c + 4 * ldc + 16, alpha: 1, beta: beta, columns: 16)
        storeVector(c5_0, to: c + 5 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c5_1, to: c + 5 * ldc + 16, alpha: 1, beta: beta, columns: 16)
        storeVector(c6_0, to: c + 6 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c6_1, to: c + 6 * ldc + 16, alpha: 1, beta: beta, columns: 16)
        storeVector(c7_0, to: c + 7 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c7_1, to: c + 7 * ldc + 16, alpha: 1, beta: beta, columns: 16)
        storeVector(c8_0, to: c + 8 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c8_1, to: c + 8 * ldc + 16, alpha: 1, beta: beta, columns: 16)
        storeVector(c9_0, to: c + 9 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c9_1, to: c + 9 * ldc + 16, alpha: 1, beta: beta, columns: 16)
        storeVector(c10_0, to: c + 10 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c10_1, to: c + 10 * ldc + 16, alpha: 1, beta: beta, columns: 16)
        storeVector(c11_0, to: c + 11 * ldc, alpha: 1, beta: beta, columns: 16)
        storeVector(c11_1, to: c + 11 * ldc + 16, alpha: 1, beta: beta, columns: 16)
        return
    }
    // Two halves of six rows: a temporary allocation above 1 KiB goes on the stack only if the runtime can tell that
    // it fits, and on the heap otherwise (a malloc per tile call).
    withUnsafeTemporaryAllocation(of: Vector.self, capacity: 12) { tile in
        tile.initializeElement(at: 0, to: c0_0)
        tile.initializeElement(at: 1, to: c0_1)
        tile.initializeElement(at: 2, to: c1_0)
        tile.initializeElement(at: 3, to: c1_1)
        tile.initializeElement(at: 4, to: c2_0)
        tile.initializeElement(at: 5, to: c2_1)
        tile.initializeElement(at: 6, to: c3_0)
        tile.initializeElement(at: 7, to: c3_1)
        tile.initializeElement(at: 8, to: c4_0)
        tile.initializeElement(at: 9, to: c4_1)
        tile.initializeElement(at: 10, to: c5_0)
        tile.initializeElement(at: 11, to: c5_1)
        storeTile(tile, vectorsPerRow: 2, c: c, ldc: ldc, beta: beta, rows: min(validRows, 6), columns: validColumns)
    }
    guard validRows > 6 else { return }
    withUnsafeTemporaryAllocation(of: Vector.self, capacity: 12) { tile in
        tile.initializeElement(at: 0, to: c6_0)
        tile.initializeElement(at: 1, to: c6_1)
        tile.initializeElement(at: 2, to: c7_0)
        tile.initializeElement(at: 3, to: c7_1)
        tile.initializeElement(at: 4, to: c8_0)
        tile.initializeElement(at: 5, to: c8_1)
        tile.initializeElement(at: 6, to: c9_0)
        tile.initializeElement(at: 7, to: c9_1)
        tile.initializeElement(at: 8, to: c10_0)
        tile.initializeElement(at: 9, to: c10_1)
        tile.initializeElement(at: 10, to: c11_0)
        tile.initializeElement(at: 11, to: c11_1)
        storeTile(tile, vectorsPerRow: 2, c: c + 6 * ldc, ldc: ldc, beta: beta, rows: validRows - 6,
                  columns: validColumns)
    }
}

/// 6 x 32: twelve `SIMD16<Float>` accumulators, for products of at most 6 rows (a small local batch), where
/// the 12-row tile would compute twice the rows it stores.
@inlinable @inline(__always)
public func tile6x32<Arithmetic: VectorArithmetic>(
    depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    beta: Float, rows validRows: Int, columns validColumns: Int, _: Arithmetic.Type
) {
    typealias Vector = SIMD16<Float>
    let rows = 6
    let columns = 32
    if beta != 0 {
        // C is read only at the end; ask for its lines now so the load does not stall the store.
        for row in 0..<rows {
            kernels_prefetch_for_write(c + row * ldc)
            kernels_prefetch_for_write(c + row * ldc + columns - 1)
        }
    }
    var c0_0 = Vector(), c0_1 = Vector(), c1_0 = Vector(), c1_1 = Vector(), c2_0 = Vector(), c2_1 = Vector()
    var c3_0 = Vector(), c3_1 = Vector(), c4_0 = Vector(), c4_1 = Vector(), c5_0 = Vector(), c5_1 = Vector()
    let bRaw = UnsafeRawPointer(b)
    var aSliver = a
    for p in 0..<depth {
        let b0 = bRaw.loadUnaligned(fromByteOffset: p * columns * 4, as: Vector.self)
        let b1 = bRaw.loadUnaligned(fromByteOffset: p * columns * 4 + 64, as: Vector.self)
        let a0 = Vector(repeating: aSliver[0])
        c0_0 = Arithmetic.multiplyAdd(a0, b0, c0_0)
        c0_1 = Arithmetic.multiplyAdd(a0, b1, c0_1)
        let a1 = Vector(repeating: aSliver[1])
        c1_0 = Arithmetic.multiplyAdd(a1, b0, c1_0)
        c1_1 = Arithmetic.multiplyAdd(a1, b1, c1_1)
        let a2 = Vector(repeating: aSliver[2])
        c2_0 = Arithmetic.multiplyAdd(a2, b0, c2_0)
        c2_1 = Arithmetic.multiplyAdd(a2, b1, c2_1)
        let a3 = Vector(repeating: aSliver[3])
        c3_0 = Arithmetic.multiplyAdd(a3, b0, c3_0)
        c3_1 = Arithmetic.multiplyAdd(a3, b1, c3_1)
        let a4 = Vector(repeating: aSliver[4])
        c4_0 = Arithmetic.multiplyAdd(a4, b0, c4_0)
        c4_1 = Arithmetic.multiplyAdd(a4, b1, c4_1)
        let a5 = Vector(repeating: aSliver[5])
        c5_0 = Arithmetic.multiplyAdd(a5, b0, c5_0)
        c5_1 = Arithmetic.multiplyAdd(a5, b1, c5_1)
        aSliver += rows
    }
    withUnsafeTemporaryAllocation(of: Vector.self, capacity: rows * 2) { tile in
        tile.initializeElement(at: 0, to: c0_0)
        tile.initializeElement(at: 1, to: c0_1)
        tile.initializeElement(at: 2, to: c1_0)
        tile.initializeElement(at: 3, to: c1_1)
        tile.initializeElement(at: 4, to: c2_0)
        tile.initializeElement(at: 5, to: c2_1)
        tile.initializeElement(at: 6, to: c3_0)
        tile.initializeElement(at: 7, to: c3_1)
        tile.initializeElement(at: 8, to: c4_0)
        tile.initializeElement(at: 9, to: c4_1)
        tile.initializeElement(at: 10, to: c5_0)
        tile.initializeElement(at: 11, to: c5_1)
        storeTile(tile, vectorsPerRow: 2, c: c, ldc: ldc, beta: beta, rows: validRows,
                  columns: validColumns)
    }
}

/// Stores a finished tile (`rows x vectorsPerRow` vectors in row order): whole vectors wherever all 16 of their
/// columns are valid (an edge in rows only, as when a local batch is smaller than the tile, stays vectorised),
/// element by element for a partial vector. `beta == 0` never reads `C`.
@inlinable @inline(__always)
public func storeTile(
    _ tile: UnsafeMutableBufferPointer<SIMD16<Float>>, vectorsPerRow: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
    beta: Float, rows validRows: Int, columns validColumns: Int
) {
    let wholeVectors = min(validColumns / 16, vectorsPerRow)
    for row in 0..<validRows {
        let line = c + row * ldc
        for vector in 0..<wholeVectors {
            let raw = UnsafeMutableRawPointer(line + vector * 16)
            let value = tile[row * vectorsPerRow + vector]
            if beta == 0 {
                raw.storeBytes(of: value, as: SIMD16<Float>.self)
            } else {
                let old = raw.loadUnaligned(as: SIMD16<Float>.self)
                raw.storeBytes(of: value.addingProduct(SIMD16(repeating: beta), old), as: SIMD16<Float>.self)
            }
        }
        guard wholeVectors < vectorsPerRow, validColumns > wholeVectors * 16 else { continue }
        let partial = tile[row * vectorsPerRow + wholeVectors]
        for lane in 0..<(validColumns - wholeVectors * 16) {
            let column = wholeVectors * 16 + lane
            line[column] = beta == 0 ? partial[lane] : partial[lane] + beta * line[column]
        }
    }
}
