// The linear model's gradient, written once and compiled per instruction set like the tiles (see Tiles.swift).

/// The summed gradient of the squared loss of a linear model over a batch stored column by column, in one pass:
/// for each example `r_i = x_i . w - y_i`, and `gradient[f] = sum_i r_i x_i[f]`.
///
/// Feature `f` of example `i` is `columns[f * columnStride + i]`, so the vector lanes run over examples: sixteen
/// residuals are formed in registers and at once multiplied into each feature's accumulator, and the batch is
/// read once. (Stored row by row, the same gradient is a matrix-vector product for the residuals and a second,
/// transposed one for `X^T r`, each a pass over the batch with a handful of lanes busy.) `accumulators` holds
/// `width` vectors of scratch. Examples past the last whole sixteen are summed one by one.
@inlinable @inline(__always)
public func linearGradient<Arithmetic: VectorArithmetic>(
    columns: UnsafePointer<Float>, columnStride: Int, width: Int, targets: UnsafePointer<Float>, count: Int,
    weights: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>,
    accumulators: UnsafeMutablePointer<SIMD16<Float>>, _: Arithmetic.Type
) {
    typealias Vector = SIMD16<Float>
    let wholeRows = count / 32 * 32
    guard wholeRows > 0 else {
        // One example (the sgd preset) or a few: no vector set-up and no lane sums.
        if count == 1 {
            let residual = linearResidual(columns: columns, columnStride: columnStride, width: width, target: targets[0],
                                          weights: weights)
            for feature in 0..<width { gradient[feature] = residual * columns[feature * columnStride] }
            return
        }
        gradient.update(repeating: 0, count: width)
        linearGradientTail(columns: columns, columnStride: columnStride, width: width, targets: targets, rows: 0..<count,
                           weights: weights, gradient: gradient)
        return
    }
    accumulators.update(repeating: Vector(), count: width)
    let raw = UnsafeRawPointer(columns)
    let rawTargets = UnsafeRawPointer(targets)
    var row = 0
    // Two groups of sixteen examples per iteration: two independent residual chains.
    while row < wholeRows {
        var residual0 = -rawTargets.loadUnaligned(fromByteOffset: row * 4, as: Vector.self)
        var residual1 = -rawTargets.loadUnaligned(fromByteOffset: row * 4 + 64, as: Vector.self)
        for feature in 0..<width {
            let weight = Vector(repeating: weights[feature])
            let offset = (feature * columnStride + row) * 4
            residual0 = Arithmetic.multiplyAdd(weight, raw.loadUnaligned(fromByteOffset: offset, as: Vector.self),
                                               residual0)
            residual1 = Arithmetic.multiplyAdd(weight, raw.loadUnaligned(fromByteOffset: offset + 64, as: Vector.self),
                                               residual1)
        }
        for feature in 0..<width {
            let offset = (feature * columnStride + row) * 4
            let sum = Arithmetic.multiplyAdd(
                raw.loadUnaligned(fromByteOffset: offset, as: Vector.self), residual0, accumulators[feature])
            accumulators[feature] = Arithmetic.multiplyAdd(
                raw.loadUnaligned(fromByteOffset: offset + 64, as: Vector.self), residual1, sum)
        }
        row += 32
    }
    for feature in 0..<width { gradient[feature] = accumulators[feature].sum() }
    linearGradientTail(columns: columns, columnStride: columnStride, width: width, targets: targets,
                       rows: wholeRows..<count, weights: weights, gradient: gradient)
}

/// Adds the examples in `rows` to `gradient` one by one.
@inlinable @inline(__always)
func linearGradientTail(
    columns: UnsafePointer<Float>, columnStride: Int, width: Int, targets: UnsafePointer<Float>, rows: Range<Int>,
    weights: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>
) {
    for row in rows {
        let residual = linearResidual(columns: columns + row, columnStride: columnStride, width: width,
                                      target: targets[row], weights: weights)
        for feature in 0..<width { gradient[feature] += residual * columns[feature * columnStride + row] }
    }
}

/// `x . w - y` for the example whose first feature is at `columns`: two partial sums halve the chain of dependent
/// additions (the sgd preset's step waits on it).
@inlinable @inline(__always)
func linearResidual(
    columns: UnsafePointer<Float>, columnStride: Int, width: Int, target: Float, weights: UnsafePointer<Float>
) -> Float {
    var even = -target
    var odd: Float = 0
    var feature = 0
    while feature + 1 < width {
        even += weights[feature] * columns[feature * columnStride]
        odd += weights[feature + 1] * columns[(feature + 1) * columnStride]
        feature += 2
    }
    if feature < width { even += weights[feature] * columns[feature * columnStride] }
    return even + odd
}
