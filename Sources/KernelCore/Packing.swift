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
            for r in 0..<sliverRows {
                let row = rowOffset + sliverStart + r
                if !transposed {
                    let source = a + row * lda + depthOffset
                    for p in 0..<depth { destination[p * mr + r] = alpha * source[p] }
                } else {
                    let source = a + depthOffset * lda + row
                    for p in 0..<depth { destination[p * mr + r] = alpha * source[p * lda] }
                }
            }
            if sliverRows < mr {
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
        for sliverStart in stride(from: 0, to: columns, by: nr) {
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
}
