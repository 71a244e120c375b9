import CKernelSupport

/// The register tile at the heart of ``GEMM``: a 6 x 16 block of `C` held in six `SIMD16<Float>`
/// accumulators (twelve 256-bit registers with AVX2), updated by one fused multiply-add per row per depth step.
///
/// 6 x 16 is the largest tile that leaves registers for the B row and the broadcast A value among AVX2's 16,
/// and it needs 2 loads per 12 FMAs. Edge tiles compute the full tile from zero-padded slivers and write only
/// their valid part, so they run the same vector loop.
enum MicroKernel {
    static let rows = 6
    static let columns = 16

    typealias Vector = SIMD16<Float>

    /// `C[0..<rows, 0..<columns] = A_sliver * B_sliver + beta * C` over `depth` steps.
    @inline(__always)
    static func run(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, rows validRows: Int, columns validColumns: Int
    ) {
        if beta != 0 {
            // C is read only at the end; ask for its lines now so the load does not stall the store.
            for row in 0..<rows {
                kernels_prefetch_for_write(c + row * ldc)
                kernels_prefetch_for_write(c + row * ldc + columns - 1)
            }
        }
        var c0 = Vector(), c1 = Vector(), c2 = Vector(), c3 = Vector(), c4 = Vector(), c5 = Vector()
        let bRaw = UnsafeRawPointer(b)
        var aSliver = a
        for p in 0..<depth {
            let bRow = bRaw.loadUnaligned(fromByteOffset: p * columns * 4, as: Vector.self)
            c0.addProduct(Vector(repeating: aSliver[0]), bRow)
            c1.addProduct(Vector(repeating: aSliver[1]), bRow)
            c2.addProduct(Vector(repeating: aSliver[2]), bRow)
            c3.addProduct(Vector(repeating: aSliver[3]), bRow)
            c4.addProduct(Vector(repeating: aSliver[4]), bRow)
            c5.addProduct(Vector(repeating: aSliver[5]), bRow)
            aSliver += rows
        }
        if validRows == rows && validColumns == columns {
            store(c0, c + 0 * ldc, beta)
            store(c1, c + 1 * ldc, beta)
            store(c2, c + 2 * ldc, beta)
            store(c3, c + 3 * ldc, beta)
            store(c4, c + 4 * ldc, beta)
            store(c5, c + 5 * ldc, beta)
        } else {
            withUnsafeTemporaryAllocation(of: Vector.self, capacity: rows) { tile in
                tile.initializeElement(at: 0, to: c0)
                tile.initializeElement(at: 1, to: c1)
                tile.initializeElement(at: 2, to: c2)
                tile.initializeElement(at: 3, to: c3)
                tile.initializeElement(at: 4, to: c4)
                tile.initializeElement(at: 5, to: c5)
                for row in 0..<validRows {
                    let line = c + row * ldc
                    for column in 0..<validColumns {
                        let value = tile[row][column]
                        line[column] = beta == 0 ? value : value + beta * line[column]
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func store(_ value: Vector, _ target: UnsafeMutablePointer<Float>, _ beta: Float) {
        let raw = UnsafeMutableRawPointer(target)
        if beta == 0 {
            raw.storeBytes(of: value, as: Vector.self)
        } else {
            let old = raw.loadUnaligned(as: Vector.self)
            raw.storeBytes(of: value.addingProduct(Vector(repeating: beta), old), as: Vector.self)
        }
    }
}

extension SIMD16<Float> {
    @inline(__always)
    mutating func addProduct(_ lhs: Self, _ rhs: Self) {
        self = addingProduct(lhs, rhs)
    }
}
