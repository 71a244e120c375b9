import Kernels
import Models
import TestSupport
import Testing

/// `--reproducible`'s first rule: a row-invariant model computes a row's prediction and its integer gradient terms
/// from that row and the parameters alone, so the same row gives the same bits at any place in any batch.
@Suite("Row-invariant models: a row's results do not depend on its batch")
struct RowInvarianceTests {
    static let kernels = KernelSet.supported.map(\.name)
    static let width = 6

    /// A batch of `size` random rows (seeded by `seed`) with `row` at `position`.
    static func batch(size: Int, placing row: [Float], target: Float, at position: Int, seed: UInt64)
        -> (inputs: [Float], targets: [Float]) {
        var random = TestRandom(state: seed)
        var inputs: [Float] = []
        var targets: [Float] = []
        for index in 0..<size {
            if index == position {
                inputs += row
                targets.append(target)
            } else {
                inputs += (0..<(width - 1)).map { _ in 2 * random.float() } + [1]
                targets.append(random.float())
            }
        }
        return (inputs, targets)
    }

    /// The placements the issue names: positions 0, 5 and 63 of batches of 1, 7 and 64 rows.
    static let placements = [(1, 0), (7, 0), (7, 5), (64, 0), (64, 5), (64, 63)]

    static func models(_ kernel: KernelSet.Name, rowInvariant: Bool) -> [any Model] {
        let set = KernelSet.named(kernel)
        return [
            MultilayerPerceptron(widths: [width - 1, 64, 64, 1], activation: .relu, maxRows: 64, seed: 3, kernels: set,
                                 rowInvariant: rowInvariant),
            MultilayerPerceptron(widths: [width - 1, 20, 1], activation: .tanh, maxRows: 64, seed: 4, kernels: set,
                                 rowInvariant: rowInvariant),
            LinearRegression(inputWidth: width, maxRows: 64, seed: 5, kernels: set, rowInvariant: rowInvariant),
        ]
    }

    /// The integer gradient of `rows` rows, in the model's layout, at `scales` or else those for batches of up to
    /// 64 rows of inputs within 2 and targets within 1: the sums of the rows before `split` plus `secondWeight` times
    /// those of the rest.
    static func integerGradient(
        _ model: any Model, inputs: [Float], targets: [Float], rows: Int, scales given: [FixedPointScale]? = nil,
        split: Int = 0, secondWeight: Int64 = 1
    ) -> [Int64] {
        var bounds = [Double](repeating: 2, count: width)
        bounds[width - 1] = 1
        var scales = given ?? [FixedPointScale](
            repeating: FixedPointScale(activationBound: 1, deltaBound: 1, rows: 1)!, count: model.parameterBlocks.count)
        if given == nil {
            #expect(model.fixedPointScales(inputBounds: bounds, targetBound: 1, rows: 64, into: &scales))
        }
        var sums = [Int64](repeating: 0, count: model.parameters.count)
        let columns = (0..<width).flatMap { feature in (0..<rows).map { inputs[$0 * width + feature] } }
        let data = model.gatherLayout == .columns ? columns : inputs
        data.withUnsafeBufferPointer { data in
            targets.withUnsafeBufferPointer { targets in
                let batch: Batch = model.gatherLayout == .columns
                    ? .columns(data.baseAddress!, columnStride: rows, targets: targets.baseAddress!, count: rows)
                    : .rows(data.baseAddress!, width: width, targets: targets.baseAddress!, count: rows)
                var second = [Int64](repeating: 0, count: sums.count)
                model.accumulateFixedPointGradient(batch, split: split, scales: scales, into: &sums, &second)
                for index in sums.indices { sums[index] &+= second[index] &* secondWeight }
            }
        }
        return sums
    }

    @Test("the same row at positions 0, 5 and 63 of batches of 1, 7 and 64: the same prediction bits, every kernel set",
          arguments: kernels)
    func predictionsDoNotDependOnTheBatch(kernel: KernelSet.Name) {
        var random = TestRandom(state: 17)
        let row = (0..<(Self.width - 1)).map { _ in 2 * random.float() } + [1]
        for model in Self.models(kernel, rowInvariant: true) {
            var seen: [UInt32] = []
            for (size, position) in Self.placements {
                let (inputs, _) = Self.batch(size: size, placing: row, target: 0, at: position, seed: UInt64(size))
                var predictions = [Float](repeating: .nan, count: size)
                model.predict(inputs: inputs, count: size, into: &predictions)
                seen.append(predictions[position].bitPattern)
            }
            #expect(Set(seen).count == 1, "\(type(of: model)) \(kernel): \(seen)")
        }
    }

    @Test("a batch's integer gradient is the sum of its rows' own, each half's apart, bit for bit, every kernel set",
          arguments: kernels)
    func integerGradientsAddUp(kernel: KernelSet.Name) {
        var random = TestRandom(state: 23)
        let row = (0..<(Self.width - 1)).map { _ in 2 * random.float() } + [1]
        for model in Self.models(kernel, rowInvariant: true) {
            for (size, position) in Self.placements {
                let (inputs, targets) = Self.batch(size: size, placing: row, target: 0.5, at: position, seed: 99)
                // The rows after the split count three times, so that a row summed into the wrong half shows.
                let split = size / 3
                let whole = Self.integerGradient(model, inputs: inputs, targets: targets, rows: size, split: split,
                                                 secondWeight: 3)
                var byRows = [Int64](repeating: 0, count: whole.count)
                for index in 0..<size {
                    let alone = Self.integerGradient(
                        model, inputs: Array(inputs[(index * Self.width)..<((index + 1) * Self.width)]),
                        targets: [targets[index]], rows: 1)
                    for parameter in byRows.indices { byRows[parameter] &+= alone[parameter] &* (index < split ? 1 : 3) }
                }
                #expect(whole == byRows, "\(type(of: model)) \(kernel): batch of \(size)")
                #expect(whole.contains { $0 != 0 })
            }
        }
    }

    @Test("the bounds hold: a row at the data's extremes never makes a term past half the scaled limit, every kernel set",
          arguments: kernels)
    func boundsHold(kernel: KernelSet.Name) {
        var random = TestRandom(state: 31)
        for model in Self.models(kernel, rowInvariant: true) {
            // Small weights and large biases and targets: every part of the bounds (the bias rows, the targets)
            // then matters, and rows at the extremes come close to them.
            for index in model.parameters.indices { model.parameters[index] = random.float() / 8 }
            let outputs = (model as? MultilayerPerceptron)?.widths.dropFirst() ?? [1]
            for (block, width) in zip(model.parameterBlocks, outputs) {
                for index in (block.upperBound - width)..<block.upperBound {
                    model.parameters[index] = random.int(0...1) == 0 ? 5 : -5
                }
            }
            var scales = [FixedPointScale](
                repeating: FixedPointScale(activationBound: 1, deltaBound: 1, rows: 1)!,
                count: model.parameterBlocks.count)
            var bounds = [Double](repeating: 2, count: Self.width)
            bounds[Self.width - 1] = 1
            #expect(model.fixedPointScales(inputBounds: bounds, targetBound: 40, rows: 1, into: &scales))
            var largest = [UInt64](repeating: 0, count: model.parameterBlocks.count)
            for _ in 0..<2000 {
                let row = (0..<(Self.width - 1)).map { _ in random.int(0...1) == 0 ? Float(2) : -2 } + [1]
                let target: Float = random.int(0...1) == 0 ? 40 : -40
                let sums = Self.integerGradient(model, inputs: row, targets: [target], rows: 1, scales: scales)
                for (block, range) in model.parameterBlocks.enumerated() {
                    largest[block] = max(largest[block], sums[range].map(\.magnitude).max() ?? 0)
                }
            }
            // Within the bounds a term is below 2^49 (the scales leave a factor of two for rounding), and here the
            // bounds are within 2^14 of each layer's largest term (tanh's slope bound of 1 is the loosest).
            #expect(largest.allSatisfy { $0 <= 1 << 49 && $0 > 1 << 35 }, "\(type(of: model)) \(kernel): \(largest)")
        }
    }

    @Test("without row invariance the MLP's rows do depend on their batch (what the mode is for)")
    func defaultModeDiffers() {
        var random = TestRandom(state: 17)
        let row = (0..<(Self.width - 1)).map { _ in 2 * random.float() } + [1]
        let model = Self.models(KernelSet.supported[0].name, rowInvariant: false)[0]
        var seen: Set<UInt32> = []
        for (size, position) in Self.placements {
            let (inputs, _) = Self.batch(size: size, placing: row, target: 0, at: position, seed: UInt64(size))
            var predictions = [Float](repeating: .nan, count: size)
            model.predict(inputs: inputs, count: size, into: &predictions)
            seen.insert(predictions[position].bitPattern)
        }
        #expect(seen.count > 1)
    }
}
