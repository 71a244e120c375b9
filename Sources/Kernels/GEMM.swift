/// Single-precision general matrix multiply, `C = alpha * op(A) * op(B) + beta * C`, on row-major storage.
///
/// The design is BLIS's: five portable loops around a register tile from the ``KernelSet`` chosen at start-up
/// (AVX-512, AVX2 or portable). A `kc x nc` panel of `op(B)` is packed into slivers of the tile's columns (sized
/// for L3), an `mc x kc` block of `op(A)` into slivers of the tile's rows (sized for L2), and the micro-kernel walks
/// both packed buffers with unit stride. The innermost loop runs along a row of tiles, one sliver of `A` (the
/// smaller) staying in L1 while the slivers of `B` stream past: the other order, BLIS's, was slower at the largest
/// sizes in alternating runs and no faster elsewhere. Packing makes the inner loop
/// independent of transposition and leading dimensions and zero-pads the edges, so edge tiles run the same vector
/// code as interior ones. Block sizes belong to each kernel set.
///
/// Shapes with one row or one column of `C` skip packing (``MatrixVector``), and so do small products, whose `op(B)`
/// fits L1 (the MLP's layers; `KernelCore.directProduct`).
///
/// An instance owns its packing buffers, grown on demand and reused, so steady-state calls do not allocate.
/// It is not thread-safe: use one per thread.
public final class GEMM {
    /// The kernels and block sizes this instance uses.
    public let kernels: KernelSet
    /// Whether each row of `C` must be the same bits whatever the other rows of the product (`--reproducible`).
    /// The paths above choose by shape, and their orders of summation differ (a row left alone by the tiles splits
    /// its depth in two sums, a few rows against `B^T` are dot products, large shapes are blocked), so a row's last
    /// bits can depend on how many rows came with it. In this mode a product with `A` as stored always takes the
    /// direct tiles, whose every element is one chain of multiply-adds over the depth in order, and a product with
    /// one column the dot product of each row: a row's result is then a function of that row and `B` alone.
    public let rowInvariant: Bool

    private var packedA = PackingBuffer()
    private var packedB = PackingBuffer()
    private var vectorScratch = PackingBuffer()

    /// Creates a GEMM with empty packing buffers, running `kernels` (by default the set chosen at start-up), row
    /// invariant or not (``rowInvariant``).
    public init(kernels: KernelSet = .active, rowInvariant: Bool = false) {
        self.kernels = kernels
        self.rowInvariant = rowInvariant
    }

    /// Computes `C = alpha * op(A) * op(B) + beta * C`.
    ///
    /// All matrices are row-major. `op(A)` is `m x k`: stored `m x k` with row stride `lda` when `transA` is
    /// `.none`, stored `k x m` when `.transposed`; likewise `op(B)` is `k x n`. `C` is `m x n` with row stride
    /// `ldc`. When `beta` is 0, `C` is not read (it may hold NaN). Any size, including 0, is accepted; a
    /// ``rowInvariant`` instance takes `A` as stored only.
    public func multiply(
        _ transA: Transpose, _ transB: Transpose,
        m: Int, n: Int, k: Int,
        alpha: Float,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 || alpha == 0 {
            scale(c, rows: m, columns: n, ldc: ldc, by: beta)
            return
        }
        precondition(!rowInvariant || transA == .none, "a row-invariant product reads A as stored")
        if n == 1 {
            let incX = transB == .none ? ldb : 1
            MatrixVector.multiply(
                transA, rows: m, depth: k, alpha: alpha, a: a, lda: lda, x: b, incX: incX,
                beta: beta, y: c, incY: ldc, scratch: &vectorScratch, kernels: kernels)
            return
        }
        if rowInvariant {
            direct(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c,
                   ldc: ldc)
            return
        }
        if m == 1 && k * n > Self.l1DirectLimit {
            // C (1 x n) = a (1 x k) * op(B): the transposed problem C^T = op(B)^T a^T has one column.
            let incX = transA == .none ? 1 : lda
            MatrixVector.multiply(
                transB.flipped, rows: n, depth: k, alpha: alpha, a: b, lda: ldb, x: a, incX: incX,
                beta: beta, y: c, incY: 1, scratch: &vectorScratch, kernels: kernels)
            return
        }
        if k * n <= (transA == .none ? kernels.directLimit : Self.l1DirectLimit) {
            direct(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c,
                   ldc: ldc)
            return
        }
        blocked(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                beta: beta, c: c, ldc: ldc)
    }

    /// The most elements of `op(B)` (32 KiB, within every L1 data cache this runs on) for which a one-row product or
    /// one with `A` transposed takes the packing-free path: past it, one row goes to the matrix-vector loops (one
    /// chain per output would wait on the FMA's latency), and a transposed `A` is packed (the tiles would read a
    /// column of it per depth step, one cache line for six values). The trainer's products are all below it. With
    /// `A` as stored the limit is the kernel set's (``KernelSet/directLimit``), measured per set: up to it, streaming
    /// `B` from L2 cost less than packing both operands; past it, packing wins.
    static let l1DirectLimit = 8192

    /// The most rows of `A` for which `A B^T` is computed as dot products rather than by transposing `B` first: at
    /// the MLP's width (64 x 64) the transposition costs about as much as eight rows' dot products (six rows took
    /// half as long by dot products as through the transposition).
    static let dotProductRows = 8

    /// Small products without packing (`KernelCore.directProduct`). `A B^T` of a few rows is a set of dot products
    /// (`KernelCore.transposedProduct`); with more rows `B^T` is first transposed, since the tiles load rows of
    /// `op(B)` as vectors.
    private func direct(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if transB == .transposed && transA == .none && m <= Self.dotProductRows && k >= 16 && !rowInvariant {
            kernels.transposedProduct(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        let edgeSliver = packedA.reserve(k * 16)
        var rowsOfB = b
        var rowStrideOfB = ldb
        if transB == .transposed {
            let transposed = packedB.reserve(k * n)
            transposedCopy(b, rows: n, columns: k, sourceStride: ldb, into: transposed)
            rowsOfB = UnsafePointer(transposed)
            rowStrideOfB = n
        }
        kernels.directProduct(m, n, k, alpha, a, transA == .none ? lda : 1, transA == .none ? 1 : lda, rowsOfB,
                              rowStrideOfB, beta, c, ldc, edgeSliver, rowInvariant)
    }

    private func blocked(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // Products of few rows (a small local batch) take the narrow tile where the set has one.
        let narrow = kernels.narrow.flatMap { m <= $0.rows ? $0 : nil }
        let mr = narrow?.rows ?? kernels.tileRows
        let nr = kernels.tileColumns
        let blockRows = kernels.blockRows
        let blockDepth = kernels.blockDepth
        let blockColumns = kernels.blockColumns
        let tile = narrow?.tile ?? kernels.tile
        let packA = narrow?.packA ?? kernels.packA
        let packB = kernels.packB
        let kcMax = min(k, blockDepth)
        let bPanel = packedB.reserve(kcMax * roundUp(min(n, blockColumns), nr))
        let aBlock = packedA.reserve(kcMax * roundUp(min(m, blockRows), mr))
        for jc in stride(from: 0, to: n, by: blockColumns) {
            let nc = min(blockColumns, n - jc)
            for pc in stride(from: 0, to: k, by: blockDepth) {
                let kc = min(blockDepth, k - pc)
                packB(transB == .transposed, b, ldb, pc, jc, kc, nc, bPanel)
                let blockBeta: Float = pc == 0 ? beta : 1
                for ic in stride(from: 0, to: m, by: blockRows) {
                    let mc = min(blockRows, m - ic)
                    packA(transA == .transposed, a, lda, ic, pc, mc, kc, alpha, aBlock)
                    for ir in stride(from: 0, to: mc, by: mr) {
                        let aSliver = UnsafePointer(aBlock + ir * kc)
                        for jr in stride(from: 0, to: nc, by: nr) {
                            tile(kc, aSliver, UnsafePointer(bPanel + jr * kc), c + (ic + ir) * ldc + jc + jr, ldc,
                                 blockBeta, min(mr, mc - ir), min(nr, nc - jr))
                        }
                    }
                }
            }
        }
    }

    private func scale(_ c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ldc: Int, by beta: Float) {
        guard beta != 1 else { return }
        for row in 0..<rows {
            let line = c + row * ldc
            if beta == 0 {
                line.update(repeating: 0, count: columns)
            } else {
                for column in 0..<columns { line[column] *= beta }
            }
        }
    }
}

/// `value` rounded up to a multiple of `multiple`.
@inline(__always)
public func roundUp(_ value: Int, _ multiple: Int) -> Int {
    (value + multiple - 1) / multiple * multiple
}
