/// A regression model trained by data-parallel SGD: every parameter in one flat buffer, and the summed gradient of
/// a batch written into another of the same length, so one allreduce per step carries the whole model's gradient
/// and every optimizer works on any model unchanged.
///
/// Inputs are rows of the standardised features followed by a 1 (the bias input), `features + 1` floats each, as
/// ``TrainingShard`` stores them. The loss of a row is `(y_hat - y)^2 / 2`. A model owns its scratch space,
/// allocated once for ``maxRows`` rows, so a training step allocates nothing.
public protocol Model: AnyObject {
    /// Every parameter, in the model's fixed order; updated in place by the optimizer.
    var parameters: UnsafeMutableBufferPointer<Float> { get }
    /// The most rows one call of ``accumulateGradient(inputs:targets:count:into:)`` or ``predict`` may pass.
    var maxRows: Int { get }

    /// The width of an input row: the features and the bias input.
    var inputWidth: Int { get }
    /// How the trainer should store each epoch's gathered rows for ``accumulateGradient(_:into:)``.
    var gatherLayout: Batch.Layout { get }

    /// Writes the sum over the batch's examples of the per-example gradients into `gradient` (`parameters.count`
    /// floats). A model accepts batches in its ``gatherLayout``; the linear model accepts both.
    func accumulateGradient(_ batch: Batch, into gradient: UnsafeMutablePointer<Float>)

    /// Writes the predictions (standardised units) of `count` rows into `predictions`.
    func predict(inputs: UnsafePointer<Float>, count: Int, into predictions: UnsafeMutablePointer<Float>)

    /// Writes each of `count` rows' (at most ``maxRows``) loss `(y_hat - y)^2 / 2`, in Double, into `losses`.
    func squaredErrors(
        inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int, into losses: UnsafeMutablePointer<Double>)

    // `--reproducible`'s gradient: each row's terms rounded to integers at a scale every rank knows before the
    // step, summed as integers (FixedPointScale). A model made row-invariant computes a row's forward and backward
    // values from that row and the parameters alone, so a row's terms are the same bits in any batch.

    /// Each layer's weights and bias in ``parameters``, in order, the bias right after the weights: the layers
    /// LARS and LAMB take norms of, and whose gradient terms share a scale in `--reproducible`.
    var parameterLayers: [ParameterLayer] { get }

    /// Writes each block's scale for sums of at most `rows` rows, from the largest magnitude of each input column
    /// over the training rows (``inputWidth`` values, the bias input's 1 last) and of any target: the same on every
    /// rank, since it depends on the parameters and those global bounds alone. Returns false, when a bound is not
    /// finite (the parameters have diverged).
    func fixedPointScales(
        inputBounds: UnsafePointer<Double>, targetBound: Double, rows: Int,
        into scales: UnsafeMutablePointer<FixedPointScale>
    ) -> Bool

    /// Adds the gradient terms of the batch's rows before `split` to `first` and of the rest to `second` (one Int64
    /// per parameter each), each term rounded at its block's scale: integer sums, so the batch may be split in any
    /// way. The batch is in the model's ``gatherLayout``, any number of rows; `split` is at most its count.
    func accumulateFixedPointGradient(
        _ batch: Batch, split: Int, scales: UnsafePointer<FixedPointScale>, into first: UnsafeMutablePointer<Int64>,
        _ second: UnsafeMutablePointer<Int64>)
}

/// Where one layer's parameters are in a model's flat buffer.
public struct ParameterLayer: Equatable, Sendable {
    public let weights: Range<Int>
    public let bias: Range<Int>

    public init(weights: Range<Int>, bias: Range<Int>) {
        precondition(weights.upperBound == bias.lowerBound, "a layer's bias follows its weights")
        self.weights = weights
        self.bias = bias
    }

    /// The weights and the bias together.
    public var all: Range<Int> { weights.lowerBound..<bias.upperBound }
}

extension Model {
    /// A copy of the parameters.
    public var parameterValues: [Float] { Array(parameters) }

    /// The blocks of ``parameters`` whose gradient terms share a scale in `--reproducible`: each layer's weights
    /// and bias.
    public var parameterBlocks: [Range<Int>] { parameterLayers.map(\.all) }

    /// The sum over `count` rows (any number: taken ``maxRows`` at a time) of `(y_hat - y)^2 / 2`, in Double.
    public func squaredErrorSum(inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int) -> Double {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: min(maxRows, max(count, 1))) { losses in
            var total = 0.0
            var start = 0
            while start < count {
                let rows = min(losses.count, count - start)
                squaredErrors(inputs: inputs + start * inputWidth, targets: targets + start, count: rows,
                              into: losses.baseAddress!)
                for row in 0..<rows { total += losses[row] }
                start += rows
            }
            return total
        }
    }

    /// The gradient of `count` rows stored one after the other (``Batch/rows(_:width:targets:count:)``).
    public func accumulateGradient(
        inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int,
        into gradient: UnsafeMutablePointer<Float>
    ) {
        accumulateGradient(.rows(inputs, width: inputWidth, targets: targets, count: count), into: gradient)
    }
}

/// A batch of examples in the memory the trainer gathered them into.
public struct Batch {
    /// Row by row (what the MLP's GEMMs read) or column by column (what the linear model's fused gradient kernel
    /// reads, its vector lanes running over examples).
    public enum Layout: Sendable { case rows, columns }

    public let layout: Layout
    /// Example `i`'s feature `f` is `inputs[i * stride + f]` by rows, `inputs[f * stride + i]` by columns.
    public let inputs: UnsafePointer<Float>
    public let stride: Int
    public let targets: UnsafePointer<Float>
    public let count: Int

    /// `count` rows of `width` floats, one after the other.
    public static func rows(_ inputs: UnsafePointer<Float>, width: Int, targets: UnsafePointer<Float>, count: Int)
        -> Batch {
        Batch(layout: .rows, inputs: inputs, stride: width, targets: targets, count: count)
    }

    /// `count` examples of a table stored column by column, `columnStride` floats per column.
    public static func columns(_ inputs: UnsafePointer<Float>, columnStride: Int, targets: UnsafePointer<Float>,
                               count: Int) -> Batch {
        Batch(layout: .columns, inputs: inputs, stride: columnStride, targets: targets, count: count)
    }

    /// The batch's first `count` examples.
    public func prefix(_ count: Int) -> Batch {
        Batch(layout: layout, inputs: inputs, stride: stride, targets: targets, count: Swift.min(count, self.count))
    }

    /// The batch without its first `count` examples.
    public func dropFirst(_ count: Int) -> Batch {
        let skipped = Swift.min(count, self.count)
        let offset = layout == .rows ? skipped * stride : skipped
        return Batch(layout: layout, inputs: inputs + offset, stride: stride, targets: targets + skipped,
                     count: self.count - skipped)
    }
}
