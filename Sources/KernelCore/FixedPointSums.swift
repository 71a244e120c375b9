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
/// Four values of `left` against eight of `right` per tile, the rows in the innermost loop, so the tile's 32 sums
/// stay in registers for the whole batch.
@inlinable @inline(__always)
public func fixedPointOuterSum<Arithmetic: VectorArithmetic>(
    rows: Int, left: UnsafePointer<Double>, leftStride: Int, leftCount: Int,
    right: UnsafePointer<Double>, rightStride: Int, rightCount: Int,
    sums: UnsafeMutablePointer<Int64>, sumsLeftStride: Int, sumsRightStride: Int, _: Arithmetic.Type
) {
    typealias Vector = SIMD8<Double>
    typealias Integers = SIMD8<Int64>
    guard rows > 0 else { return }
    let offset = Vector(repeating: integerRoundingOffset)
    let offsets = Int64(rows) &* Int64(bitPattern: integerRoundingOffset.bitPattern)
    let rightRaw = UnsafeRawPointer(right)
    for l in stride(from: 0, to: leftCount, by: 4) {
        // A tile past the last value of `left` reads that value again (its sums are dropped).
        let l1 = min(l + 1, leftCount - 1), l2 = min(l + 2, leftCount - 1), l3 = min(l + 3, leftCount - 1)
        for r in stride(from: 0, to: rightCount, by: 8) {
            var sum0 = Integers(), sum1 = Integers(), sum2 = Integers(), sum3 = Integers()
            for row in 0..<rows {
                let values = rightRaw.loadUnaligned(fromByteOffset: (row * rightStride + r) * 8, as: Vector.self)
                let line = left + row * leftStride
                sum0 &+= unsafeBitCast(
                    Arithmetic.multiplyAdd(Vector(repeating: line[l]), values, offset), to: Integers.self)
                sum1 &+= unsafeBitCast(
                    Arithmetic.multiplyAdd(Vector(repeating: line[l1]), values, offset), to: Integers.self)
                sum2 &+= unsafeBitCast(
                    Arithmetic.multiplyAdd(Vector(repeating: line[l2]), values, offset), to: Integers.self)
                sum3 &+= unsafeBitCast(
                    Arithmetic.multiplyAdd(Vector(repeating: line[l3]), values, offset), to: Integers.self)
            }
            let lanes = min(8, rightCount - r)
            func store(_ sum: Integers, _ index: Int) {
                guard l + index < leftCount else { return }
                let target = sums + (l + index) * sumsLeftStride + r * sumsRightStride
                if lanes == 8 && sumsRightStride == 1 {
                    let raw = UnsafeMutableRawPointer(target)
                    raw.storeBytes(of: raw.loadUnaligned(as: Integers.self) &+ (sum &- offsets), as: Integers.self)
                } else {
                    for lane in 0..<lanes { target[lane * sumsRightStride] &+= sum[lane] &- offsets }
                }
            }
            store(sum0, 0)
            store(sum1, 1)
            store(sum2, 2)
            store(sum3, 3)
        }
    }
}

/// The linear model's gradient in `--reproducible`'s integers: for each example `i` the residual
/// `r_i = x_i . w - y_i` in Float (the features in order, one multiply-add each, whatever the example's place in the
/// batch), then `sums[f] += round((x_i[f] 2^inputExponent) (r_i 2^residualExponent))` as in
/// ``fixedPointOuterSum(rows:left:leftStride:leftCount:right:rightStride:rightCount:sums:sumsLeftStride:sumsRightStride:_:)``.
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
