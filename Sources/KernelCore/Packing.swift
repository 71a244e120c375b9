import CKernelSupport

/// Copies blocks of `op(A)` and `op(B)` into the sliver layout the register tiles read. Written once and compiled
/// per instruction set like the tiles: packing is a third of a small product's time.
public enum Packing {
    /// Packs `rows x depth` of `alpha * op(A)` starting at (`rowOffset`, `depthOffset`) into slivers of
    /// `sliverRows` rows (the tile's): sliver `s` holds, for each depth index `p`, its rows' values at `p`
    /// contiguously. Rows past the edge are zero.
    @inlinable @inline(__always)
    public static func packA(
        _ transposed: Bool, a: UnsafePointer<Float>, lda: Int, rowOffset: Int, depthOffset: Int,
        rows: Int, depth: Int, alpha: Float, sliverRows mr: Int, into packed: UnsafeMutablePointer<Float>
    ) {
        var destination = packed
        for sliverStart in stride(from: 0, to: rows, by: mr) {
            let sliverRows = min(mr, rows - sliverStart)
            let firstRow = rowOffset + sliverStart
            // Whole slivers write each depth step's `mr` values as one contiguous run (row by row, the writes went
            // `mr` floats apart; packing A and B took a tenth of a 1024 x 1024 product).
            if sliverRows == mr && !transposed {
                // The next sliver's rows, lda apart, are a dozen separate streams the hardware prefetcher does not
                // follow well: ask for their lines while this sliver is packed.
                let nextRows = min(mr, rows - sliverStart - mr)
                for r in 0..<max(nextRows, 0) {
                    let line = a + (firstRow + mr + r) * lda + depthOffset
                    for p in stride(from: 0, to: depth, by: 16) { kernels_prefetch_for_read(line + p) }
                }
                packRowsByQuads(a + firstRow * lda + depthOffset, lda: lda, depth: depth, alpha: alpha,
                                sliverRows: mr, into: destination)
            } else if sliverRows == mr {
                let source = a + depthOffset * lda + firstRow
                for p in 0..<depth {
                    let target = destination + p * mr
                    let line = source + p * lda
                    for r in 0..<mr { target[r] = alpha * line[r] }
                }
            } else {
                for r in 0..<sliverRows {
                    let row = firstRow + r
                    if !transposed {
                        let source = a + row * lda + depthOffset
                        for p in 0..<depth { destination[p * mr + r] = alpha * source[p] }
                    } else {
                        let source = a + depthOffset * lda + row
                        for p in 0..<depth { destination[p * mr + r] = alpha * source[p * lda] }
                    }
                }
                for p in 0..<depth {
                    for r in sliverRows..<mr { destination[p * mr + r] = 0 }
                }
            }
            destination += depth * mr
        }
    }

    /// Packs `depth x columns` of `op(B)` starting at (`depthOffset`, `columnOffset`) into slivers of
    /// `sliverColumns` columns (the tile's): sliver `s` holds, for each depth index `p`, its columns' values at `p`
    /// contiguously. Columns past the edge are zero.
    @inlinable @inline(__always)
    public static func packB(
        _ transposed: Bool, b: UnsafePointer<Float>, ldb: Int, depthOffset: Int, columnOffset: Int,
        depth: Int, columns: Int, sliverColumns nr: Int, into packed: UnsafeMutablePointer<Float>
    ) {
        var destination = packed
        let wholeSlivers = columns / nr
        if !transposed && wholeSlivers > 0 {
            // Whole slivers row by row of `B`: each row is read once from start to end (sliver by sliver, the reads
            // went `ldb` apart down the panel, a page each).
            for p in 0..<depth {
                let source = b + (depthOffset + p) * ldb + columnOffset
                for sliver in 0..<wholeSlivers {
                    let target = packed + sliver * depth * nr + p * nr
                    for j in 0..<nr { target[j] = source[sliver * nr + j] }
                }
            }
            destination += wholeSlivers * depth * nr
        }
        for sliverStart in stride(from: transposed ? 0 : wholeSlivers * nr, to: columns, by: nr) {
            let sliverColumns = min(nr, columns - sliverStart)
            let column = columnOffset + sliverStart
            if !transposed {
                for p in 0..<depth {
                    let source = b + (depthOffset + p) * ldb + column
                    let target = destination + p * nr
                    if sliverColumns == nr {
                        target.update(from: source, count: nr)
                    } else {
                        target.update(from: source, count: sliverColumns)
                        (target + sliverColumns).update(repeating: 0, count: nr - sliverColumns)
                    }
                }
            } else {
                for j in 0..<sliverColumns {
                    let source = b + (column + j) * ldb + depthOffset
                    for p in 0..<depth { destination[p * nr + j] = source[p] }
                }
                if sliverColumns < nr {
                    for p in 0..<depth {
                        (destination + p * nr + sliverColumns).update(repeating: 0, count: nr - sliverColumns)
                    }
                }
            }
            destination += depth * nr
        }
    }

    /// One whole sliver of `mr` rows of `A` as stored (each row contiguous along the depth), four rows by four depth
    /// steps at a time: four vector loads, a 4 x 4 transposition in registers and four stores of four, where element
    /// by element each value took a load and a store `mr` floats from the last. Rows past a multiple of four and
    /// the depth past a multiple of four go one by one. The quads alone gained nothing in `perf`'s samples of a large
    /// product, the prefetch of the next sliver alone half of it; together they roughly halved packing's share.
    @inlinable @inline(__always)
    static func packRowsByQuads(
        _ source: UnsafePointer<Float>, lda: Int, depth: Int, alpha: Float, sliverRows mr: Int,
        into destination: UnsafeMutablePointer<Float>
    ) {
        typealias Quad = SIMD4<Float>
        let wholeDepth = depth / 4 * 4
        let scale = Quad(repeating: alpha)
        var r = 0
        while r + 4 <= mr {
            let rows = source + r * lda
            for p in stride(from: 0, to: wholeDepth, by: 4) {
                let q0 = UnsafeRawPointer(rows + p).loadUnaligned(as: Quad.self)
                let q1 = UnsafeRawPointer(rows + lda + p).loadUnaligned(as: Quad.self)
                let q2 = UnsafeRawPointer(rows + 2 * lda + p).loadUnaligned(as: Quad.self)
                let q3 = UnsafeRawPointer(rows + 3 * lda + p).loadUnaligned(as: Quad.self)
                let target = UnsafeMutableRawPointer(destination + p * mr + r)
                let step = mr * 4
                target.storeBytes(of: scale * Quad(q0[0], q1[0], q2[0], q3[0]), as: Quad.self)
                target.storeBytes(of: scale * Quad(q0[1], q1[1], q2[1], q3[1]), toByteOffset: step, as: Quad.self)
                target.storeBytes(of: scale * Quad(q0[2], q1[2], q2[2], q3[2]), toByteOffset: 2 * step, as: Quad.self)
                target.storeBytes(of: scale * Quad(q0[3], q1[3], q2[3], q3[3]), toByteOffset: 3 * step, as: Quad.self)
            }
            for p in wholeDepth..<depth {
                for i in 0..<4 { destination[p * mr + r + i] = alpha * rows[i * lda + p] }
            }
            r += 4
        }
        for row in r..<mr {
            for p in 0..<depth { destination[p * mr + row] = alpha * source[row * lda + p] }
        }
    }
}
