import Kernels
import TestSupport
import Testing

/// `--reproducible`'s integer kernels against the definition: each product of two Floats (exact in a Double)
/// rounded to the nearest integer, ties to even, and summed.
@Suite("Integer sums of rounded products, every kernel set")
struct FixedPointSumsTests {
    static let kernels = KernelSet.supported.map(\.name)

    /// Whether the set's Float multiply-add is one fused operation (see `VectorArithmetic`).
    static func fuses(_ kernel: KernelSet.Name) -> Bool {
        #if arch(arm64)
        true
        #else
        kernel != .portable
        #endif
    }

    /// `round(a * b)` as an integer, computed apart from the kernels: the product of two Floats is exact in Double.
    static func rounded(_ a: Double, _ b: Double) -> Int64 { Int64((a * b).rounded(.toNearestOrEven)) }

    @Test("odd shapes and strides, sums spread by a stride, ties and negative products", arguments: kernels)
    func outerSumsMatchTheDefinition(kernel: KernelSet.Name) {
        let set = KernelSet.named(kernel)
        var random = TestRandom(state: 5)
        for _ in 0..<200 {
            let rows = random.int(1...37)
            let leftCount = random.int(1...11)
            let rightCount = random.int(1...40)
            let leftStride = leftCount + random.int(0...3)
            let rightStride = (rightCount + 7) / 8 * 8 + 8 * random.int(0...1)
            // Values of a few bits, scaled, so that many products land on halves (ties) and exact integers.
            func value(_ bits: Int, _ scale: Double) -> Double { Double(random.int(-(1 << bits)...(1 << bits))) * scale }
            let left = (0..<(rows * leftStride)).map { _ in value(12, 0.5) }
            var right = [Double](repeating: 0, count: rows * rightStride)
            for row in 0..<rows { for r in 0..<rightCount { right[row * rightStride + r] = value(20, 0.25) } }
            let transposed = random.int(0...1) == 1
            let (leftStep, rightStep) = transposed ? (1, leftCount) : (rightCount, 1)
            var sums = (0..<(leftCount * rightCount)).map { _ in Int64(random.int(-1000...1000)) }
            var expected = sums
            for l in 0..<leftCount {
                for r in 0..<rightCount {
                    for row in 0..<rows {
                        expected[l * leftStep + r * rightStep] += Self.rounded(
                            left[row * leftStride + l], right[row * rightStride + r])
                    }
                }
            }
            set.fixedPointOuterSum(rows, left, leftStride, leftCount, right, rightStride, rightCount, &sums, leftStep,
                                   rightStep)
            #expect(sums == expected, "\(kernel): \(rows) rows, \(leftCount) x \(rightCount)")
        }
    }

    @Test("the largest products the scales allow (2^50) and Floats' full significands", arguments: kernels)
    func largeAndFullProducts(kernel: KernelSet.Name) {
        let set = KernelSet.named(kernel)
        var random = TestRandom(state: 9)
        let rows = 64
        let left = (0..<rows).map { _ in Double(random.float()) * 0x1p25 }
        var right = [Double](repeating: 0, count: rows * 8)
        for row in 0..<rows { right[row * 8] = Double(random.float()) * 0x1p25 }
        var sums: [Int64] = [0]
        set.fixedPointOuterSum(rows, left, 1, 1, right, 8, 1, &sums, 1, 1)
        let expected = (0..<rows).reduce(Int64(0)) { $0 + Self.rounded(left[$1], right[$1 * 8]) }
        #expect(sums == [expected])
    }

    @Test("the linear model's fused kernel: residuals in Float, rounded products with the inputs", arguments: kernels)
    func linearGradientMatchesTheDefinition(kernel: KernelSet.Name) {
        let set = KernelSet.named(kernel)
        var random = TestRandom(state: 13)
        for count in [1, 7, 8, 9, 100] {
            let width = 6
            let columns = (0..<(width * count)).map { $0 / count == width - 1 ? 1 : random.float() }
            let targets = (0..<count).map { _ in random.float() }
            let weights = (0..<width).map { _ in random.float() }
            var sums = [Int64](repeating: 7, count: width)
            var scratch = [SIMD8<Int64>](repeating: SIMD8(), count: width)
            set.linearFixedPointGradient(columns, count, width, targets, count, weights, 0x1p20, 0x1p10, &sums, &scratch)
            for feature in 0..<width {
                var expected: Int64 = 7
                for row in 0..<count {
                    // The kernel's residual: -y, then one multiply-add per feature in order (fused on the vector
                    // sets, a multiply and an add on the portable one).
                    var residual = -targets[row]
                    for f in 0..<width {
                        let x = columns[f * count + row]
                        residual = Self.fuses(kernel) ? residual.addingProduct(weights[f], x) : weights[f] * x + residual
                    }
                    expected += Self.rounded(Double(columns[feature * count + row]) * 0x1p20, Double(residual) * 0x1p10)
                }
                #expect(sums[feature] == expected, "\(kernel): \(count) rows, feature \(feature)")
            }
        }
    }

    @Test("integer sums back to Floats, and the halves' squared distance", arguments: kernels)
    func gradientFromSums(kernel: KernelSet.Name) {
        let set = KernelSet.named(kernel)
        var random = TestRandom(state: 21)
        let count = 29
        let first = (0..<count).map { _ in Int64(random.int(-(1 << 40)...(1 << 40))) }
        let second = (0..<count).map { _ in Int64(random.int(-(1 << 40)...(1 << 40))) }
        var reduced = [Float](repeating: .nan, count: count)
        let distance = set.fixedPointGradient(first, second, count, 0x1p-30, 0x1p-30 / 3, 0x1p-30 / 5, &reduced)
        var expected = 0.0
        for index in 0..<count {
            #expect(reduced[index] == Float(Double(first[index] + second[index]) * 0x1p-30))
            let difference = Double(first[index]) * (0x1p-30 / 3) - Double(second[index]) * (0x1p-30 / 5)
            expected += difference * difference
        }
        #expect(abs(distance - expected) <= 1e-12 * expected)
    }
}
