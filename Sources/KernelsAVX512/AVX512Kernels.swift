import KernelCore

/// The kernels for AVX-512 (zmm registers): compiled for x86-64-v4 (scheduled for Skylake-SP); run only where the
/// CPU has every feature of that level.
public enum AVX512Kernels {
    /// Rows and columns of the register tile.
    public static let tileRows = 12
    public static let tileColumns = 32

    public static func tile(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        beta: Float, rows: Int, columns: Int
    ) {
        tile12x32(depth: depth, a: a, b: b, c: c, ldc: ldc, beta: beta, rows: rows, columns: columns, AVX512Arithmetic.self)
    }

    /// Rows of the narrow tile used for products of at most that many rows.
    public static let narrowTileRows = 6

    public static func narrowTile(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        beta: Float, rows: Int, columns: Int
    ) {
        tile6x32(depth: depth, a: a, b: b, c: c, ldc: ldc, beta: beta, rows: rows, columns: columns, AVX512Arithmetic.self)
    }

    public static func packANarrow(
        _ transposed: Bool, a: UnsafePointer<Float>, lda: Int, rowOffset: Int, depthOffset: Int, rows: Int,
        depth: Int, alpha: Float, into packed: UnsafeMutablePointer<Float>
    ) {
        Packing.packA(transposed, a: a, lda: lda, rowOffset: rowOffset, depthOffset: depthOffset, rows: rows,
                      depth: depth, alpha: alpha, sliverRows: narrowTileRows, into: packed)
    }

    public static func packA(
        _ transposed: Bool, a: UnsafePointer<Float>, lda: Int, rowOffset: Int, depthOffset: Int, rows: Int,
        depth: Int, alpha: Float, into packed: UnsafeMutablePointer<Float>
    ) {
        Packing.packA(transposed, a: a, lda: lda, rowOffset: rowOffset, depthOffset: depthOffset, rows: rows,
                      depth: depth, alpha: alpha, sliverRows: tileRows, into: packed)
    }

    public static func packB(
        _ transposed: Bool, b: UnsafePointer<Float>, ldb: Int, depthOffset: Int, columnOffset: Int, depth: Int,
        columns: Int, into packed: UnsafeMutablePointer<Float>
    ) {
        Packing.packB(transposed, b: b, ldb: ldb, depthOffset: depthOffset, columnOffset: columnOffset, depth: depth,
                      columns: columns, sliverColumns: tileColumns, into: packed)
    }

    public static func dot(_ lhs: UnsafePointer<Float>, _ rhs: UnsafePointer<Float>, count: Int) -> Float {
        dotProduct(lhs, rhs, count: count, AVX512Arithmetic.self)
    }

    /// The packing-free small product (`KernelCore.directProduct`), 64 columns per tile: 24 of the 32 zmm registers hold the sums.
    public static func directProduct(
        m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
        edgeSliver: UnsafeMutablePointer<Float>, rowInvariant: Bool
    ) {
        KernelCore.directProduct(
            wide: true, m: m, n: n, k: k, alpha: alpha, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride, b: b,
            ldb: ldb, beta: beta, c: c, ldc: ldc, edgeSliver: edgeSliver, rowInvariant: rowInvariant, AVX512Arithmetic.self)
    }

    /// `A B^T` for few rows of `A`, by dot products along the depth (`KernelCore.transposedProduct`).
    public static func transposedProduct(
        m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        KernelCore.transposedProduct(
            wide: true, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
            AVX512Arithmetic.self)
    }

    /// `--reproducible`'s integer sums of products (`KernelCore.fixedPointOuterSum`).
    public static func fixedPointOuterSum(
        rows: Int, left: UnsafePointer<Double>, leftStride: Int, leftCount: Int, right: UnsafePointer<Double>,
        rightStride: Int, rightCount: Int, sums: UnsafeMutablePointer<Int64>, sumsLeftStride: Int, sumsRightStride: Int
    ) {
        KernelCore.fixedPointOuterSum(
            wide: true, rows: rows, left: left, leftStride: leftStride, leftCount: leftCount, right: right, rightStride: rightStride,
            rightCount: rightCount, sums: sums, sumsLeftStride: sumsLeftStride, sumsRightStride: sumsRightStride,
            AVX512Arithmetic.self)
    }

    /// `--reproducible`'s Float gradient from its integer sums (`KernelCore.fixedPointGradient`).
    public static func fixedPointGradient(
        first: UnsafePointer<Int64>, second: UnsafePointer<Int64>, count: Int, unit: Double, firstUnit: Double,
        secondUnit: Double, into reduced: UnsafeMutablePointer<Float>
    ) -> Double {
        KernelCore.fixedPointGradient(first: first, second: second, count: count, unit: unit, firstUnit: firstUnit,
                                      secondUnit: secondUnit, into: reduced)
    }

    /// Rows of Floats as scaled Doubles for the integer sums (`KernelCore.widenScaled`).
    public static func widenScaled(
        _ source: UnsafePointer<Float>, stride: Int, rows: Int, width: Int, scale: Double,
        into target: UnsafeMutablePointer<Double>, paddedWidth: Int
    ) {
        KernelCore.widenScaled(source, stride: stride, rows: rows, width: width, scale: scale, into: target,
                               paddedWidth: paddedWidth)
    }

    /// A layer's forward bounds (`KernelCore.addScaledMagnitudes`).
    public static func addScaledMagnitudes(
        _ weights: UnsafePointer<Float>, times bound: Double, to sums: UnsafeMutablePointer<Double>, count: Int
    ) {
        KernelCore.addScaledMagnitudes(weights, times: bound, to: sums, count: count)
    }

    /// A layer's backward bounds (`KernelCore.magnitudeDot`).
    public static func magnitudeDot(_ weights: UnsafePointer<Float>, _ bounds: UnsafePointer<Double>, count: Int) -> Double {
        KernelCore.magnitudeDot(weights, bounds, count: count)
    }

    /// The linear model's gradient in `--reproducible`'s integers (`KernelCore.linearFixedPointGradient`).
    public static func linearFixedPointGradient(
        columns: UnsafePointer<Float>, columnStride: Int, width: Int, targets: UnsafePointer<Float>, count: Int,
        weights: UnsafePointer<Float>, inputScale: Double, residualScale: Double, sums: UnsafeMutablePointer<Int64>,
        accumulators: UnsafeMutablePointer<SIMD8<Int64>>
    ) {
        KernelCore.linearFixedPointGradient(
            columns: columns, columnStride: columnStride, width: width, targets: targets, count: count,
            weights: weights, inputScale: inputScale, residualScale: residualScale, sums: sums,
            accumulators: accumulators, AVX512Arithmetic.self)
    }

    public static func linearGradient(
        columns: UnsafePointer<Float>, columnStride: Int, width: Int, targets: UnsafePointer<Float>, count: Int,
        weights: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>,
        accumulators: UnsafeMutablePointer<SIMD16<Float>>
    ) {
        KernelCore.linearGradient(
            columns: columns, columnStride: columnStride, width: width, targets: targets, count: count,
            weights: weights, gradient: gradient, accumulators: accumulators, AVX512Arithmetic.self)
    }

    public static func scaledAdd(_ scale: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        KernelCore.scaledAdd(scale, x, y, count: count, AVX512Arithmetic.self)
    }

    public static func update(
        _ rule: UpdateRule, _ constants: UpdateConstants, weights: UnsafeMutablePointer<Float>,
        gradientSum: UnsafePointer<Float>, first: UnsafeMutablePointer<Float>, second: UnsafeMutablePointer<Float>,
        count: Int
    ) {
        applyUpdate(rule, constants, weights: weights, gradientSum: gradientSum, first: first, second: second,
                    count: count)
    }

    /// The peak loop, in vectors of this set's FMA width.
    public static func multiplyAddChains(_ iterations: Int) -> Float {
        KernelCore.multiplyAddChains(iterations) { (a: SIMD16<Float>, b, c) in AVX512Arithmetic.multiplyAdd(a, b, c) }
    }
}

/// This module's multiply-add, one rounding (FMA). A type of its own rather than one shared with the other
/// instruction sets' modules: a generic kernel that the optimiser keeps out of line is specialised under a symbol
/// named after its type arguments, and with a shared type the AVX-512, AVX2 and portable modules emit the same
/// symbol, of which the linker keeps one, so one instruction set's entry point could run another's copy (seen:
/// the AVX-512 set ran AVX2's `transposedProduct`).
enum AVX512Arithmetic: VectorArithmetic {
    @inline(__always)
    static func multiplyAdd(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
        c.addingProduct(a, b)
    }

    @inline(__always)
    static func multiplyAdd(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
        c.addingProduct(a, b)
    }

    @inline(__always)
    static func multiplyAdd(_ a: SIMD8<Double>, _ b: SIMD8<Double>, _ c: SIMD8<Double>) -> SIMD8<Double> {
        c.addingProduct(a, b)
    }
}
