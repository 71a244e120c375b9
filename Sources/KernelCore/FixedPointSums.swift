// `--reproducible`'s gradient sums, written once and compiled per instruction set like the tiles (see Tiles.swift).
//
// A weight gradient is a sum over rows of products `a * d` (an activation or input times a delta or residual). Here
// each product is rounded once to an integer (the caller has scaled `a` and `d` by powers of two so that the
// integer grid is fine enough and every product is below 2^50 in magnitude) and the integers are summed in Int64:
// integer sums are associative, so the total is the same bits however the rows are split among calls, ranks or an
// allreduce.
//
// The rounding: `a` and `d` are Floats scaled by powers of two into Doubles, so their product has at most 48
// significant bits and is exact in a Double; adding `1.5 * 2^52` then rounds it to the nearest integer (ties to
// even), since Doubles in `[2^52, 2^53)` are the integers, and for a product below 2^51 in magnitude the bits of
// the sum are `bits(1.5 * 2^52) + that integer`. So a multiply-add onto the constant and an integer add of its bits
// accumulate one rounded product: with one fused multiply-add where the instruction set has it, with a multiply and
// an add where it does not, the same bits either way (the product is exact). The constant's bits, added once per
// row, are subtracted at the end.

/// `1.5 * 2^52`: adding it to a Double below 2^51 in magnitude rounds the Double to an integer in the low bits.
@usableFromInline let integerRoundingOffset: Double = 6_755_399_441_055_744

/// Adds to `sums[l * sumsLeftStride + r * sumsRightStride]`, for every `l < leftCount` and `r < rightCount`, the sum
/// over `rows` rows of `left[row * leftStride + l] * right[row * rightStride + r]`, each product rounded to an
/// integer as above (so every product must be below 2^51 in magnitude). `right`'s rows are read eight values at a
/// time: the values past `rightCount` up to a multiple of eight must be readable (zeros, say), and are not summed.
///
/// Four values of `left` against eight of `right` per tile (sixteen when `wide`: AVX-512's registers hold the eight
/// sums), the rows in the innermost loop, so the tile's sums stay in registers for the whole batch.
@inlinable @inline(__always)
public func fixedPointOuterSum<Arithmetic: VectorArithmetic>(
    wide: Bool, rows: Int, left: UnsafePointer<Double>, leftStride: Int, leftCount: Int,
    right: UnsafePointer<Double>, rightStride: Int, rightCount: Int,
    sums: UnsafeMutablePointer<Int64>, sumsLeftStride: Int, sumsRightStride: Int, _: Arithmetic.Type
) {
    guard rows > 0 else { return }
    for l in stride(from: 0, to: leftCount, by: 4) {
        var r = 0
        while r < rightCount {
            let vectors = wide && rightCount - r > 8 ? 2 : 1
            if vectors == 2 {
                integerTile(vectors: 2, rows: rows, left: left, leftStride: leftStride, leftCount: leftCount, l: l,
                            right: right, rightStride: rightStride, rightCount: rightCount, r: r, sums: sums,
                            sumsLeftStride: sumsLeftStride, sumsRightStride: sumsRightStride, Arithmetic.self)
            } else {
                integerTile(vectors: 1, rows: rows, left: left, leftStride: leftStride, leftCount: leftCount, l: l,
                            right: right, rightStride: rightStride, rightCount: rightCount, r: r, sums: sums,
                            sumsLeftStride: sumsLeftStride, sumsRightStride: sumsRightStride, Arithmetic.self)
            }
            r += 8 * vectors
        }
    }
}

/// One tile of ``fixedPointOuterSum(wide:rows:left:leftStride:leftCount:right:rightStride:rightCount:sums:sumsLeftStride:sumsRightStride:_:)``:
/// `left` values `l ..< l + 4` against `right` values `r ..< r + 8 vectors` (a constant after inlining).
@inlinable @inline(__always)
func integerTile<Arithmetic: VectorArithmetic>(
    vectors: Int, rows: Int, left: UnsafePointer<Double>, leftStride: Int, leftCount: Int, l: Int,
    right: UnsafePointer<Double>, rightStride: Int, rightCount: Int, r: Int,
    sums: UnsafeMutablePointer<Int64>, sumsLeftStride: Int, sumsRightStride: Int, _: Arithmetic.Type
) {
    typealias Vector = SIMD8<Double>
    typealias Integers = SIMD8<Int64>
    let offset = Vector(repeating: integerRoundingOffset)
    let rightRaw = UnsafeRawPointer(right)
    // A tile past the last value of `left` reads that value again (its sums are dropped).
    let l1 = min(l + 1, leftCount - 1), l2 = min(l + 2, leftCount - 1), l3 = min(l + 3, leftCount - 1)
    var sum0 = Integers(), sum1 = Integers(), sum2 = Integers(), sum3 = Integers()
    var sum4 = Integers(), sum5 = Integers(), sum6 = Integers(), sum7 = Integers()
    @inline(__always) func rounded(_ x: Double, _ values: Vector) -> Integers {
        unsafeBitCast(Arithmetic.multiplyAdd(Vector(repeating: x), values, offset), to: Integers.self)
    }
    for row in 0..<rows {
        let line = left + row * leftStride
        let (x0, x1, x2, x3) = (line[l], line[l1], line[l2], line[l3])
        let values = rightRaw.loadUnaligned(fromByteOffset: (row * rightStride + r) * 8, as: Vector.self)
        sum0 &+= rounded(x0, values)
        sum1 &+= rounded(x1, values)
        sum2 &+= rounded(x2, values)
        sum3 &+= rounded(x3, values)
        guard vectors == 2 else { continue }
        let more = rightRaw.loadUnaligned(fromByteOffset: (row * rightStride + r + 8) * 8, as: Vector.self)
        sum4 &+= rounded(x0, more)
        sum5 &+= rounded(x1, more)
        sum6 &+= rounded(x2, more)
        sum7 &+= rounded(x3, more)
    }
    let offsets = Int64(rows) &* Int64(bitPattern: integerRoundingOffset.bitPattern)
    @inline(__always) func store(_ sum: Integers, _ index: Int, _ start: Int) {
        let lanes = min(8, rightCount - start)
        guard l + index < leftCount, lanes > 0 else { return }
        let target = sums + (l + index) * sumsLeftStride + start * sumsRightStride
        if lanes == 8 && sumsRightStride == 1 {
            let raw = UnsafeMutableRawPointer(target)
            raw.storeBytes(of: raw.loadUnaligned(as: Integers.self) &+ (sum &- offsets), as: Integers.self)
        } else {
            for lane in 0..<lanes { target[lane * sumsRightStride] &+= sum[lane] &- offsets }
        }
    }
    store(sum0, 0, r)
    store(sum1, 1, r)
    store(sum2, 2, r)
    store(sum3, 3, r)
    guard vectors == 2 else { return }
    store(sum4, 0, r + 8)
    store(sum5, 1, r + 8)
    store(sum6, 2, r + 8)
    store(sum7, 3, r + 8)
}

/// The linear model's gradient in `--reproducible`'s integers: for each example `i` the residual
/// `r_i = x_i . w - y_i` in Float (the features in order, one multiply-add each, whatever the example's place in the
/// batch), then `sums[f] += round((x_i[f] 2^inputExponent) (r_i 2^residualExponent))` as in
/// ``fixedPointOuterSum(wide:rows:left:leftStride:leftCount:right:rightStride:rightCount:sums:sumsLeftStride:sumsRightStride:_:)``.
///
/// Feature `f` of example `i` is `columns[f * columnStride + i]`: the lanes run over eight examples; a last group
/// short of eight fills its other lanes with zeros, whose products are zero. `accumulators` holds `width` vectors.
@inlinable @inline(__always)
public func linearFixedPointGradient<Arithmetic: VectorArithmetic>(
    columns: UnsafePointer<Float>, columnStride: Int, width: Int, targets: UnsafePointer<Float>, count: Int,
    weights: UnsafePointer<Float>, inputScale: Double, residualScale: Double, sums: UnsafeMutablePointer<Int64>,
    accumulators: UnsafeMutablePointer<SIMD8<Int64>>, _: Arithmetic.Type
) {
    typealias Vector = SIMD8<Float>
    guard count > 0 else { return }
    accumulators.update(repeating: SIMD8(), count: width)
    let offset = SIMD8<Double>(repeating: integerRoundingOffset)
    let inputScales = SIMD8<Double>(repeating: inputScale)
    let residualScales = SIMD8<Double>(repeating: residualScale)
    let raw = UnsafeRawPointer(columns)
    let rawTargets = UnsafeRawPointer(targets)
    var row = 0
    while row < count {
        let lanes = min(8, count - row)
        // The lanes' values: loaded whole, or the last group's copied beside zeros.
        func load(_ base: UnsafeRawPointer, _ start: Int) -> Vector {
            if lanes == 8 { return base.loadUnaligned(fromByteOffset: start * 4, as: Vector.self) }
            var values = Vector()
            for lane in 0..<lanes { values[lane] = base.load(fromByteOffset: (start + lane) * 4, as: Float.self) }
            return values
        }
        var residual = -load(rawTargets, row)
        for feature in 0..<width {
            residual = Arithmetic.multiplyAdd(
                Vector(repeating: weights[feature]), load(raw, feature * columnStride + row), residual)
        }
        let scaledResidual = SIMD8<Double>(residual) * residualScales
        for feature in 0..<width {
            let inputs = SIMD8<Double>(load(raw, feature * columnStride + row)) * inputScales
            accumulators[feature] &+= unsafeBitCast(
                Arithmetic.multiplyAdd(inputs, scaledResidual, offset), to: SIMD8<Int64>.self)
        }
        row += 8
    }
    let offsets = Int64((count + 7) / 8 * 8) &* Int64(bitPattern: integerRoundingOffset.bitPattern)
    for feature in 0..<width { sums[feature] &+= accumulators[feature].wrappedSum() &- offsets }
}

/// The Float gradient of `count` integer sums, `reduced[i] = Float(Double(first[i] + second[i]) * unit)` (the sum
/// of the two halves wraps, exactly, since the true sums are below 2^62), and the noise scale's squared distance
/// between the halves' means, `sum_i (first[i] firstUnit - second[i] secondUnit)^2`, in eight partial sums added in
/// one fixed order (the same bits on every set: no multiply-add is fused).
@inlinable @inline(__always)
public func fixedPointGradient(
    first: UnsafePointer<Int64>, second: UnsafePointer<Int64>, count: Int, unit: Double, firstUnit: Double,
    secondUnit: Double, into reduced: UnsafeMutablePointer<Float>
) -> Double {
    typealias Integers = SIMD8<Int64>
    typealias Vector = SIMD8<Double>
    let units = Vector(repeating: unit), firstUnits = Vector(repeating: firstUnit)
    let secondUnits = Vector(repeating: secondUnit)
    let firstRaw = UnsafeRawPointer(first), secondRaw = UnsafeRawPointer(second)
    var distances = Vector()
    var index = 0
    while index + 8 <= count {
        let firstSums = firstRaw.loadUnaligned(fromByteOffset: index * 8, as: Integers.self)
        let secondSums = secondRaw.loadUnaligned(fromByteOffset: index * 8, as: Integers.self)
        let gradient = SIMD8<Float>(Vector(firstSums &+ secondSums) * units)
        UnsafeMutableRawPointer(reduced + index).storeBytes(of: gradient, as: SIMD8<Float>.self)
        let difference = Vector(firstSums) * firstUnits - Vector(secondSums) * secondUnits
        distances += difference * difference
        index += 8
    }
    var tail = 0.0
    while index < count {
        reduced[index] = Float(Double(first[index] &+ second[index]) * unit)
        let difference = Double(first[index]) * firstUnit - Double(second[index]) * secondUnit
        tail += difference * difference
        index += 1
    }
    return distances.sum() + tail
}

// The loops around the integer sums: bounds and Doubles from the model's Floats, compiled per instruction set for
// their conversions (the baseline converts two lanes at a time).

/// `sum_i |weights[i]| bounds[i]` in Double, eight partial sums at a time (bounds need no particular order).
@inlinable @inline(__always)
public func magnitudeDot(_ weights: UnsafePointer<Float>, _ bounds: UnsafePointer<Double>, count: Int) -> Double {
    var sums = SIMD8<Double>()
    var index = 0
    let rawWeights = UnsafeRawPointer(weights)
    let rawBounds = UnsafeRawPointer(bounds)
    while index + 8 <= count {
        let values = SIMD8<Double>(rawWeights.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self))
        let magnitudes = values.replacing(with: -values, where: values .< 0)
        sums += magnitudes * rawBounds.loadUnaligned(fromByteOffset: index * 8, as: SIMD8<Double>.self)
        index += 8
    }
    var total = sums.sum()
    while index < count {
        total += Double(weights[index].magnitude) * bounds[index]
        index += 1
    }
    return total
}

/// `sums[i] += bound |weights[i]|` in Double for `i < count`, eight at a time.
@inlinable @inline(__always)
public func addScaledMagnitudes(
    _ weights: UnsafePointer<Float>, times bound: Double, to sums: UnsafeMutablePointer<Double>, count: Int
) {
    let bounds = SIMD8<Double>(repeating: bound)
    let rawWeights = UnsafeRawPointer(weights)
    let rawSums = UnsafeMutableRawPointer(sums)
    var index = 0
    while index + 8 <= count {
        let values = SIMD8<Double>(rawWeights.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self))
        let magnitudes = values.replacing(with: -values, where: values .< 0)
        rawSums.storeBytes(
            of: rawSums.loadUnaligned(fromByteOffset: index * 8, as: SIMD8<Double>.self) + bounds * magnitudes,
            toByteOffset: index * 8, as: SIMD8<Double>.self)
        index += 8
    }
    while index < count {
        sums[index] += bound * Double(weights[index].magnitude)
        index += 1
    }
}

/// `rows` rows of `width` Floats (row stride `stride`) times `scale`, as Doubles in rows of `paddedWidth`, the
/// columns past `width` zero: exact, since the scales are powers of two.
@inlinable @inline(__always)
public func widenScaled(
    _ source: UnsafePointer<Float>, stride: Int, rows: Int, width: Int, scale: Double,
    into target: UnsafeMutablePointer<Double>, paddedWidth: Int
) {
    let scales = SIMD8<Double>(repeating: scale)
    for row in 0..<rows {
        let from = UnsafeRawPointer(source + row * stride)
        let to = target + row * paddedWidth
        var column = 0
        while column + 8 <= width {
            let values = SIMD8<Double>(from.loadUnaligned(fromByteOffset: column * 4, as: SIMD8<Float>.self)) * scales
            UnsafeMutableRawPointer(to + column).storeBytes(of: values, as: SIMD8<Double>.self)
            column += 8
        }
        while column < width {
            to[column] = Double(source[row * stride + column]) * scale
            column += 1
        }
        for column in width..<paddedWidth { to[column] = 0 }
    }
}
