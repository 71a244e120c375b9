import KernelCore

/// The kernels for Any CPU: compiled for the baseline target (SSE2 on x86-64, NEON on aarch64).
public enum PortableKernels {
    /// Rows and columns of the register tile.
    public static let tileRows = 6
    public static let tileColumns = 16

    public static func tile(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        beta: Float, rows: Int, columns: Int
    ) {
        tile6x16(depth: depth, a: a, b: b, c: c, ldc: ldc, beta: beta, rows: rows, columns: columns, PortableArithmetic.self)
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
        dotProduct(lhs, rhs, count: count, PortableArithmetic.self)
    }

    /// The packing-free small product (`KernelCore.directProduct`), 16 columns per tile.
    public static func directProduct(
        m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
        edgeSliver: UnsafeMutablePointer<Float>, rowInvariant: Bool
    ) {
        KernelCore.directProduct(
            wide: false, m: m, n: n, k: k, alpha: alpha, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride, b: b,
            ldb: ldb, beta: beta, c: c, ldc: ldc, edgeSliver: edgeSliver, rowInvariant: rowInvariant, PortableArithmetic.self)
    }

    /// `A B^T` for few rows of `A`, by dot products along the depth (`KernelCore.transposedProduct`), one row by eight columns.
    public static func transposedProduct(
        m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        KernelCore.transposedProduct(
            wide: false, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
            PortableArithmetic.self)
    }

    /// `--reproducible`'s integer sums of products (`KernelCore.fixedPointOuterSum`).
    public static func fixedPointOuterSum(
        rows: Int, left: UnsafePointer<Double>, leftStride: Int, leftCount: Int, right: UnsafePointer<Double>,
        rightStride: Int, rightCount: Int, sums: UnsafeMutablePointer<Int64>, sumsLeftStride: Int, sumsRightStride: Int
    ) {
        KernelCore.fixedPointOuterSum(
            wide: false, rows: rows, left: left, leftStride: leftStride, leftCount: leftCount, right: right, rightStride: rightStride,
            rightCount: rightCount, sums: sums, sumsLeftStride: sumsLeftStride, sumsRightStride: sumsRightStride,
            PortableArithmetic.self)
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
            accumulators: accumulators, PortableArithmetic.self)
    }

    public static func linearGradient(
        columns: UnsafePointer<Float>, columnStride: Int, width: Int, targets: UnsafePointer<Float>, count: Int,
        weights: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>,
        accumulators: UnsafeMutablePointer<SIMD16<Float>>
    ) {
        KernelCore.linearGradient(
            columns: columns, columnStride: columnStride, width: width, targets: targets, count: count,
            weights: weights, gradient: gradient, accumulators: accumulators, PortableArithmetic.self)
    }

    public static func scaledAdd(_ scale: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        KernelCore.scaledAdd(scale, x, y, count: count, PortableArithmetic.self)
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
        KernelCore.multiplyAddChains(iterations) { (a: SIMD4<Float>, b, c) in PortableArithmetic.multiplyAdd(a, b, c) }
    }
}

/// This module's multiply-add (a type of its own, like the other instruction sets': see `AVX512Arithmetic`): fused
/// on aarch64 (NEON has FMLA), a multiply then an add on baseline x86-64 (no FMA before AVX2; `addingProduct` would
/// call `fmaf` per lane).
enum PortableArithmetic: VectorArithmetic {
    @inline(__always)
    static func multiplyAdd(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
        #if arch(arm64)
        c.addingProduct(a, b)
        #else
        a * b + c
        #endif
    }

    @inline(__always)
    static func multiplyAdd(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
        #if arch(arm64)
        c.addingProduct(a, b)
        #else
        a * b + c
        #endif
    }

    @inline(__always)
    static func multiplyAdd(_ a: SIMD8<Double>, _ b: SIMD8<Double>, _ c: SIMD8<Double>) -> SIMD8<Double> {
        #if arch(arm64)
        c.addingProduct(a, b)
        #else
        a * b + c
        #endif
    }

    /// The baseline's vector width (the peak loop's).
    @inline(__always)
    static func multiplyAdd(_ a: SIMD4<Float>, _ b: SIMD4<Float>, _ c: SIMD4<Float>) -> SIMD4<Float> {
        #if arch(arm64)
        c.addingProduct(a, b)
        #else
        a * b + c
        #endif
    }
}
