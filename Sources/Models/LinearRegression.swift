import Common
import Kernels

/// The chapter's linear model `y = X w + b` with squared loss `(y_hat - y)^2 / 2`, computed with ``GEMM``.
///
/// The bias is the last weight: inputs carry a trailing 1 (see ``TrainingShard``), so one GEMM gives the
/// predictions and one transposed GEMM gives the gradient of weights and bias together. Parameters and scratch
/// space live in buffers allocated once, so a training step allocates nothing.
public final class LinearRegression: Model {
    /// The weights, then the bias; updated in place by the optimizer.
    public let parameters: UnsafeMutableBufferPointer<Float>
    private let residuals: UnsafeMutableBufferPointer<Float>
    /// Scratch of the fused gradient kernel: one vector per input.
    private let accumulators: UnsafeMutablePointer<SIMD16<Float>>
    /// Scratch of `--reproducible`'s fused kernel: one vector per input.
    private let integerAccumulators: UnsafeMutablePointer<SIMD8<Int64>>
    private let gemm: GEMM
    private let kernels: KernelSet

    /// Creates the model with weights drawn from N(0, 0.01^2) by `seed` (the same on every rank) and bias 0.
    ///
    /// - Parameters:
    ///   - inputWidth: features plus one (the bias input).
    ///   - maxRows: the most rows any call will pass; scratch space is allocated once for them.
    ///   - kernels: the instruction set's kernels (by default the set chosen at start-up).
    ///   - rowInvariant: whether predictions must not depend on the batch around a row (`GEMM.rowInvariant`).
    public init(
        inputWidth: Int, maxRows: Int, seed: UInt64, kernels: KernelSet = .active, rowInvariant: Bool = false
    ) {
        self.kernels = kernels
        gemm = GEMM(kernels: kernels, rowInvariant: rowInvariant)
        accumulators = .allocate(capacity: inputWidth)
        accumulators.initialize(repeating: SIMD16(), count: inputWidth)
        integerAccumulators = .allocate(capacity: inputWidth)
        integerAccumulators.initialize(repeating: SIMD8(), count: inputWidth)
        var generator = SeededGenerator(seed: seed, stream: 0)
        parameters = .allocate(capacity: inputWidth)
        for index in 0..<inputWidth {
            parameters[index] = index == inputWidth - 1 ? 0 : Float(0.01 * generator.nextNormal())
        }
        residuals = .allocate(capacity: max(maxRows, 1))
        residuals.initialize(repeating: 0)
    }

    deinit {
        parameters.deallocate()
        residuals.deallocate()
        accumulators.deallocate()
        integerAccumulators.deallocate()
    }

    /// The width of an input row (features and bias input).
    public var inputWidth: Int { parameters.count }

    public var maxRows: Int { residuals.count }

    /// Columns: the fused kernel forms sixteen residuals at a time and multiplies them into the gradient in the same
    /// pass (`KernelCore.linearGradient`), several times faster than the two matrix-vector products rows need.
    public var gatherLayout: Batch.Layout { .columns }

    /// Writes the sum over the batch's rows of the per-example gradients into `gradient` (``inputWidth`` floats):
    /// by columns in one fused pass, by rows as `X^T (X w - y)` with two GEMM calls (the two agree to rounding).
    @inline(__always)
    public func accumulateGradient(_ batch: Batch, into gradient: UnsafeMutablePointer<Float>) {
        let width = inputWidth
        let (inputs, targets, count) = (batch.inputs, batch.targets, batch.count)
        guard count > 0 else {
            gradient.update(repeating: 0, count: width)
            return
        }
        if batch.layout == .columns {
            kernels.linearGradient(inputs, batch.stride, width, targets, count, parameters.baseAddress!, gradient,
                                   accumulators)
            return
        }
        precondition(batch.stride == width, "a row batch of the linear model has rows of inputWidth floats")
        computeResiduals(inputs: inputs, targets: targets, count: count)
        gemm.multiply(.transposed, .none, m: width, n: 1, k: count, alpha: 1,
                      a: inputs, lda: width, b: residuals.baseAddress!, ldb: 1,
                      beta: 0, c: gradient, ldc: 1)
    }

    /// One layer: the weights, then the bias.
    public var parameterLayers: [ParameterLayer] {
        [ParameterLayer(weights: 0..<(inputWidth - 1), bias: (inputWidth - 1)..<inputWidth)]
    }

    /// One block: the inputs times the residual `x . w - y`, bounded by `sum_f |x_f| |w_f|` plus the largest target.
    public func fixedPointScales(
        inputBounds: UnsafePointer<Double>, targetBound: Double, rows: Int,
        into scales: UnsafeMutablePointer<FixedPointScale>
    ) -> Bool {
        var inputBound = 0.0
        var residualBound = targetBound
        for feature in 0..<inputWidth {
            inputBound = max(inputBound, inputBounds[feature])
            residualBound += inputBounds[feature] * Double(parameters[feature].magnitude)
        }
        guard let scale = FixedPointScale(activationBound: inputBound, deltaBound: residualBound, rows: rows) else {
            return false
        }
        scales[0] = scale
        return true
    }

    /// By columns only: the fused kernel forms eight residuals in Float, one multiply-add per feature in order
    /// (whatever their lanes), and adds their rounded products with the inputs to the sums.
    public func accumulateFixedPointGradient(
        _ batch: Batch, split: Int, scales: UnsafePointer<FixedPointScale>, into first: UnsafeMutablePointer<Int64>,
        _ second: UnsafeMutablePointer<Int64>
    ) {
        precondition(batch.layout == .columns, "the linear model's integer gradient reads batches by columns")
        func add(_ part: Batch, into sums: UnsafeMutablePointer<Int64>) {
            guard part.count > 0 else { return }
            kernels.linearFixedPointGradient(
                part.inputs, part.stride, inputWidth, part.targets, part.count, parameters.baseAddress!,
                scales[0].activationScale, scales[0].deltaScale, sums, integerAccumulators)
        }
        add(batch.prefix(split), into: first)
        add(batch.dropFirst(split), into: second)
    }

    public func squaredErrors(
        inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int, into losses: UnsafeMutablePointer<Double>
    ) {
        computeResiduals(inputs: inputs, targets: targets, count: count)
        for index in 0..<count {
            let error = Double(residuals[index])
            losses[index] = error * error / 2
        }
    }

    public func predict(inputs: UnsafePointer<Float>, count: Int, into predictions: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        gemm.multiply(.none, .none, m: count, n: 1, k: inputWidth, alpha: 1,
                      a: inputs, lda: inputWidth, b: parameters.baseAddress!, ldb: 1,
                      beta: 0, c: predictions, ldc: 1)
    }

    /// `residual = X w - y`: the targets are copied in and the GEMM adds `X w` with `beta = -1`.
    @inline(__always)
    private func computeResiduals(inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int) {
        precondition(count <= residuals.count, "more rows than the model's scratch space")
        let residual = residuals.baseAddress!
        residual.update(from: targets, count: count)
        gemm.multiply(.none, .none, m: count, n: 1, k: inputWidth, alpha: 1,
                      a: inputs, lda: inputWidth, b: parameters.baseAddress!, ldb: 1,
                      beta: -1, c: residual, ldc: 1)
    }
}
