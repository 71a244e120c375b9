import Common
import Kernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A multilayer perceptron for regression: hidden layers `a = act(x W + b)`, then a linear output `y = a W + b`,
/// with the loss `(y_hat - y)^2 / 2`. Every layer's forward and backward products are ``GEMM`` calls.
///
/// Layout. Layer `l` maps `in` to `out` features with an `(in + 1) x out` row-major block of ``parameters``: the
/// weights, then the bias as the last row. Every activation buffer carries a trailing column of ones (as the input
/// rows do), so one GEMM computes `x W + b`, and one transposed GEMM computes the weights' and the bias's gradient
/// together (`[a, 1]^T dZ`: its last row is the bias sum). The input gradient of a layer is `dZ W^T` over the
/// weight rows only. Blocks follow each other from the first layer to the output, so the whole model is one
/// buffer and its gradient another.
///
/// Each row's results are computed from that row and the parameters alone: the GEMM computes every output element
/// from one row of its left operand. Their last bits can depend on the batch's size (a row the six-row tiles leave
/// over sums its depth in two interleaved halves), unless the model is made row-invariant (`GEMM.rowInvariant`), as
/// `--reproducible` makes it.
public final class MultilayerPerceptron: Model {
    public let parameters: UnsafeMutableBufferPointer<Float>
    public let maxRows: Int
    /// Widths from the input to the output, e.g. `[5, 64, 64, 1]`.
    public let widths: [Int]
    /// The hidden layers' nonlinearity.
    public let activation: Activation

    /// Where each layer's `(in + 1) x out` block starts in ``parameters``.
    private let offsets: [Int]
    /// Hidden activations, `maxRows x (width + 1)` each, the last column fixed at 1; index `l` is layer `l`'s
    /// output for `l < layers - 1`.
    private let hiddenOutputs: [UnsafeMutableBufferPointer<Float>]
    /// Gradients with respect to the hidden pre-activations, `maxRows x width` each.
    private let hiddenDeltas: [UnsafeMutableBufferPointer<Float>]
    /// The output column: predictions, then residuals.
    private let output: UnsafeMutableBufferPointer<Float>
    private let gemm: GEMM
    /// `--reproducible`'s bounds: each layer's input activations (its bias input included), one after the other,
    /// and two vectors of deltas as wide as the widest layer.
    private let activationBounds: UnsafeMutableBufferPointer<Double>
    private let activationBoundOffsets: [Int]
    private let deltaBounds: UnsafeMutableBufferPointer<Double>
    private let lowerDeltaBounds: UnsafeMutableBufferPointer<Double>
    /// `--reproducible`'s products' two sides as scaled Doubles, allocated on first use (``integerScratchRows`` rows
    /// of the widest layer plus its bias input, rounded up to eight for the kernel's vectors).
    private var integerScratch: (left: UnsafeMutableBufferPointer<Double>, right: UnsafeMutableBufferPointer<Double>)?

    /// Creates the network with PyTorch's default initialisation for linear layers: weights and biases uniform in
    /// `+-1/sqrt(in)`, drawn from `seed` layer by layer (the same on every rank).
    public init(
        widths: [Int], activation: Activation, maxRows: Int, seed: UInt64, kernels: KernelSet = .active,
        rowInvariant: Bool = false
    ) {
        precondition(widths.count >= 2 && widths.allSatisfy { $0 > 0 })
        gemm = GEMM(kernels: kernels, rowInvariant: rowInvariant)
        self.widths = widths
        self.activation = activation
        self.maxRows = max(maxRows, 1)
        var offsets: [Int] = []
        var total = 0
        for layer in 0..<(widths.count - 1) {
            offsets.append(total)
            total += (widths[layer] + 1) * widths[layer + 1]
        }
        self.offsets = offsets
        parameters = .allocateLineAligned(count: total)
        for layer in 0..<(widths.count - 1) {
            var generator = SeededGenerator(seed: seed, stream: 2, UInt64(layer))
            let bound = 1 / Double(widths[layer]).squareRoot()
            for index in 0..<((widths[layer] + 1) * widths[layer + 1]) {
                parameters[offsets[layer] + index] = Float((2 * generator.nextUnit() - 1) * bound)
            }
        }
        let rows = self.maxRows
        hiddenOutputs = widths.dropFirst().dropLast().map { width in
            let buffer = UnsafeMutableBufferPointer<Float>.allocateLineAligned(count: rows * (width + 1))
            buffer.initialize(repeating: 1)
            return buffer
        }
        hiddenDeltas = widths.dropFirst().dropLast().map { width in
            let buffer = UnsafeMutableBufferPointer<Float>.allocateLineAligned(count: rows * width)
            buffer.initialize(repeating: 0)
            return buffer
        }
        output = .allocateLineAligned(count: rows)
        output.initialize(repeating: 0)
        activationBoundOffsets = widths.dropLast().reduce(into: [0]) { $0.append($0.last! + $1 + 1) }
        activationBounds = .allocate(capacity: activationBoundOffsets.last!)
        activationBounds.initialize(repeating: 0)
        deltaBounds = .allocate(capacity: widths.max()!)
        deltaBounds.initialize(repeating: 0)
        lowerDeltaBounds = .allocate(capacity: widths.max()!)
        lowerDeltaBounds.initialize(repeating: 0)
    }

    deinit {
        parameters.deallocateLineAligned()
        hiddenOutputs.forEach { $0.deallocateLineAligned() }
        hiddenDeltas.forEach { $0.deallocateLineAligned() }
        output.deallocateLineAligned()
        activationBounds.deallocate()
        deltaBounds.deallocate()
        lowerDeltaBounds.deallocate()
        integerScratch?.left.deallocateLineAligned()
        integerScratch?.right.deallocateLineAligned()
    }

    /// The number of layers with parameters (hidden layers and the output).
    public var layers: Int { widths.count - 1 }

    public var inputWidth: Int { widths[0] + 1 }

    /// Rows: each layer is a GEMM over the batch's rows.
    public var gatherLayout: Batch.Layout { .rows }

    public func accumulateGradient(_ batch: Batch, into gradient: UnsafeMutablePointer<Float>) {
        precondition(batch.layout == .rows && batch.stride == inputWidth, "the MLP reads batches row by row")
        guard batch.count > 0 else {
            gradient.update(repeating: 0, count: parameters.count)
            return
        }
        backPropagate(inputs: batch.inputs, targets: batch.targets, count: batch.count) { layer, input, delta in
            // dW = [a, 1]^T dZ: the weights' and the bias's gradient in one product.
            gemm.multiply(.transposed, .none, m: widths[layer] + 1, n: widths[layer + 1], k: batch.count, alpha: 1,
                          a: input.values, lda: input.stride, b: delta.values, ldb: delta.stride,
                          beta: 0, c: gradient + offsets[layer], ldc: widths[layer + 1])
        }
    }

    /// The forward pass of `count <= maxRows` rows, then from the output back, for each layer: `weightGradient`
    /// with the layer's input rows (with their trailing 1) and its deltas `dZ`, then `dA = dZ W^T` and
    /// `dZ = dA * act'(a)` for the layer below.
    @inline(__always)
    private func backPropagate(
        inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int,
        weightGradient: (Int, (values: UnsafePointer<Float>, stride: Int), (values: UnsafePointer<Float>, stride: Int))
            -> Void
    ) {
        forward(inputs: inputs, count: count)
        let residual = output.baseAddress!
        for row in 0..<count { residual[row] -= targets[row] }
        var delta = UnsafePointer(residual)
        var deltaStride = 1
        for layer in stride(from: layers - 1, through: 0, by: -1) {
            let inWidth = widths[layer]
            let outWidth = widths[layer + 1]
            let (layerInput, inputStride) = input(of: layer, inputs: inputs)
            weightGradient(layer, (layerInput, inputStride), (delta, deltaStride))
            guard layer > 0 else { break }
            let below = hiddenDeltas[layer - 1].baseAddress!
            gemm.multiply(.none, .transposed, m: count, n: inWidth, k: outWidth, alpha: 1,
                          a: delta, lda: deltaStride, b: parameters.baseAddress! + offsets[layer], ldb: outWidth,
                          beta: 0, c: below, ldc: inWidth)
            multiplyByActivationSlope(below, activations: layerInput, count: count, width: inWidth, stride: inputStride)
            delta = UnsafePointer(below)
            deltaStride = inWidth
        }
    }

    public func predict(inputs: UnsafePointer<Float>, count: Int, into predictions: UnsafeMutablePointer<Float>) {
        var start = 0
        while start < count {
            let rows = min(maxRows, count - start)
            forward(inputs: inputs + start * (widths[0] + 1), count: rows)
            (predictions + start).update(from: output.baseAddress!, count: rows)
            start += rows
        }
    }

    public func squaredErrors(
        inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int, into losses: UnsafeMutablePointer<Double>
    ) {
        forward(inputs: inputs, count: count)
        for row in 0..<count {
            let error = Double(output[row]) - Double(targets[row])
            losses[row] = error * error / 2
        }
    }

    /// Each layer's block: `in x out` weights, then the bias row of `out`.
    public var parameterLayers: [ParameterLayer] {
        (0..<layers).map { layer in
            let biasStart = offsets[layer] + widths[layer] * widths[layer + 1]
            return ParameterLayer(weights: offsets[layer]..<biasStart, bias: biasStart..<(biasStart + widths[layer + 1]))
        }
    }

    /// Bounds carried through the layers. Forward: `|z_j| <= sum_i A_i |W_ij|` over the inputs and the bias row,
    /// and `|act(z)| <= |z|` (ReLU), `<= min(|z|, 1)` (tanh). The residual: the output's bound plus the largest
    /// target. Backward: `|dA_i| <= sum_j |W_ij| D_j` over the weight rows, and both slopes are at most 1. A layer's
    /// terms are its input activations times its deltas.
    public func fixedPointScales(
        inputBounds: UnsafePointer<Double>, targetBound: Double, rows: Int,
        into scales: UnsafeMutablePointer<FixedPointScale>
    ) -> Bool {
        let bounds = activationBounds.baseAddress!
        bounds.update(from: inputBounds, count: widths[0] + 1)
        var residualBound = targetBound
        for layer in 0..<layers {
            let inputs = bounds + activationBoundOffsets[layer]
            let outWidth = widths[layer + 1]
            let isOutput = layer == layers - 1
            let sums = isOutput ? deltaBounds.baseAddress! : bounds + activationBoundOffsets[layer + 1]
            sums.update(repeating: 0, count: outWidth)
            let weights = parameters.baseAddress! + offsets[layer]
            for row in 0...widths[layer] {
                gemm.kernels.addScaledMagnitudes(weights + row * outWidth, inputs[row], sums, outWidth)
            }
            if isOutput {
                residualBound += (0..<outWidth).reduce(0) { max($0, sums[$1]) }
            } else {
                if activation == .tanh { for column in 0..<outWidth { sums[column] = min(sums[column], 1) } }
                sums[outWidth] = 1
            }
        }
        var deltas = deltaBounds.baseAddress!
        var lower = lowerDeltaBounds.baseAddress!
        deltas.update(repeating: residualBound, count: widths[layers])
        for layer in stride(from: layers - 1, through: 0, by: -1) {
            let inWidth = widths[layer]
            let outWidth = widths[layer + 1]
            let inputs = bounds + activationBoundOffsets[layer]
            let largestInput = (0...inWidth).reduce(0) { max($0, inputs[$1]) }
            let largestDelta = (0..<outWidth).reduce(0) { max($0, deltas[$1]) }
            guard let scale = FixedPointScale(activationBound: largestInput, deltaBound: largestDelta, rows: rows)
            else { return false }
            scales[layer] = scale
            guard layer > 0 else { break }
            let weights = parameters.baseAddress! + offsets[layer]
            for row in 0..<inWidth {
                lower[row] = gemm.kernels.magnitudeDot(weights + row * outWidth, deltas, outWidth)
            }
            swap(&deltas, &lower)
        }
        return true
    }

    /// Rows: the forward and backward passes of ``accumulateGradient(_:into:)`` (row-invariant when the model is),
    /// with each layer's terms, its input activations times its deltas, through `KernelCore.fixedPointOuterSum`, the
    /// vector lanes along the wider side.
    public func accumulateFixedPointGradient(
        _ batch: Batch, split: Int, scales: UnsafePointer<FixedPointScale>, into first: UnsafeMutablePointer<Int64>,
        _ second: UnsafeMutablePointer<Int64>
    ) {
        precondition(batch.layout == .rows && batch.stride == inputWidth, "the MLP reads batches row by row")
        let chunkRows = integerScratchRows
        let (left, right) = integerScratch ?? {
            let width = roundUp(widths.max()! + 1, 8)
            let buffers = (UnsafeMutableBufferPointer<Double>.allocateLineAligned(count: chunkRows * width),
                           UnsafeMutableBufferPointer<Double>.allocateLineAligned(count: chunkRows * width))
            integerScratch = buffers
            return buffers
        }()
        var start = 0
        while start < batch.count {
            let count = min(chunkRows, batch.count - start)
            // The rows before the split go to the first sums, the rest to the second.
            let firstRows = min(max(split - start, 0), count)
            backPropagate(inputs: batch.inputs + start * inputWidth, targets: batch.targets + start, count: count) {
                layer, input, delta in
                let (inWidth, outWidth) = (widths[layer], widths[layer + 1])
                let scale = scales[layer]
                let widen = gemm.kernels.widenScaled
                func sum(_ leftCount: Int, _ rightCount: Int, _ leftStep: Int, _ rightStep: Int) {
                    let rightWidth = roundUp(rightCount, 8)
                    func part(_ rows: Range<Int>, into sums: UnsafeMutablePointer<Int64>) {
                        guard !rows.isEmpty else { return }
                        gemm.kernels.fixedPointOuterSum(
                            rows.count, left.baseAddress! + rows.lowerBound * leftCount, leftCount, leftCount,
                            right.baseAddress! + rows.lowerBound * rightWidth, rightWidth, rightCount,
                            sums + offsets[layer], leftStep, rightStep)
                    }
                    part(0..<firstRows, into: first)
                    part(firstRows..<count, into: second)
                }
                if outWidth >= 8 {
                    widen(input.values, input.stride, count, inWidth + 1, scale.activationScale,
                               left.baseAddress!, inWidth + 1)
                    widen(delta.values, delta.stride, count, outWidth, scale.deltaScale, right.baseAddress!,
                               roundUp(outWidth, 8))
                    sum(inWidth + 1, outWidth, outWidth, 1)
                } else {
                    widen(delta.values, delta.stride, count, outWidth, scale.deltaScale, left.baseAddress!,
                               outWidth)
                    widen(input.values, input.stride, count, inWidth + 1, scale.activationScale,
                               right.baseAddress!, roundUp(inWidth + 1, 8))
                    sum(outWidth, inWidth + 1, 1, outWidth)
                }
            }
            start += count
        }
    }

    /// Rows per pass of ``accumulateFixedPointGradient(_:split:scales:into:_:)``: the scratch rows, but no more than keep
    /// each side's Doubles near 2 MiB however wide the layers.
    private var integerScratchRows: Int { min(maxRows, max(8, 262_144 / roundUp(widths.max()! + 1, 8))) }

    /// Layer `layer`'s input rows (with their trailing 1) and their stride.
    @inline(__always)
    private func input(of layer: Int, inputs: UnsafePointer<Float>) -> (UnsafePointer<Float>, Int) {
        layer == 0 ? (inputs, widths[0] + 1) : (UnsafePointer(hiddenOutputs[layer - 1].baseAddress!), widths[layer] + 1)
    }

    /// Fills the hidden activations and the output column for `count <= maxRows` rows.
    private func forward(inputs: UnsafePointer<Float>, count: Int) {
        precondition(count <= maxRows, "more rows than the model's scratch space")
        for layer in 0..<layers {
            let inWidth = widths[layer]
            let outWidth = widths[layer + 1]
            let (layerInput, inputStride) = input(of: layer, inputs: inputs)
            let isOutput = layer == layers - 1
            let target = isOutput ? output.baseAddress! : hiddenOutputs[layer].baseAddress!
            let targetStride = isOutput ? 1 : outWidth + 1
            gemm.multiply(.none, .none, m: count, n: outWidth, k: inWidth + 1, alpha: 1,
                          a: layerInput, lda: inputStride, b: parameters.baseAddress! + offsets[layer], ldb: outWidth,
                          beta: 0, c: target, ldc: targetStride)
            if !isOutput { activate(target, count: count, width: outWidth, stride: targetStride) }
        }
    }

    /// Applies the nonlinearity to the first `width` columns of `count` rows.
    @inline(__always)
    private func activate(_ values: UnsafeMutablePointer<Float>, count: Int, width: Int, stride: Int) {
        for row in 0..<count {
            let line = values + row * stride
            switch activation {
            case .relu: clampBelowAtZero(line, count: width)
            case .tanh: for column in 0..<width { line[column] = tanhf(line[column]) }
            }
        }
    }

    /// `delta *= act'(z)`, written through the activation `a = act(z)`: relu' is `a > 0`, tanh' is `1 - a^2`.
    @inline(__always)
    private func multiplyByActivationSlope(
        _ delta: UnsafeMutablePointer<Float>, activations: UnsafePointer<Float>, count: Int, width: Int, stride: Int
    ) {
        for row in 0..<count {
            let line = delta + row * width
            let values = activations + row * stride
            switch activation {
            case .relu: zeroWhereNotPositive(line, activations: values, count: width)
            case .tanh: for column in 0..<width { line[column] *= 1 - values[column] * values[column] }
            }
        }
    }
}

// ReLU's loops on explicit 8-lane vectors: a lane-wise select and max, which every x86-64 (SSE2) and aarch64 has,
// where the compiler's scalar loop branched on every unit (this module is built for the baseline CPU).

/// `values[i] = max(values[i], 0)` for `i < count`.
@inline(__always)
private func clampBelowAtZero(_ values: UnsafeMutablePointer<Float>, count: Int) {
    var index = 0
    let raw = UnsafeMutableRawPointer(values)
    while index + 8 <= count {
        let lanes = raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
        raw.storeBytes(of: lanes.replacing(with: 0, where: lanes .< 0), toByteOffset: index * 4, as: SIMD8<Float>.self)
        index += 8
    }
    while index < count {
        values[index] = max(values[index], 0)
        index += 1
    }
}

/// `delta[i] = 0` where `activations[i] <= 0` (ReLU's slope is 0 there, 1 elsewhere), for `i < count`.
@inline(__always)
private func zeroWhereNotPositive(_ delta: UnsafeMutablePointer<Float>, activations: UnsafePointer<Float>, count: Int) {
    var index = 0
    let target = UnsafeMutableRawPointer(delta)
    let source = UnsafeRawPointer(activations)
    while index + 8 <= count {
        let slopes = source.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
        let lanes = target.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
        target.storeBytes(of: lanes.replacing(with: 0, where: slopes .<= 0), toByteOffset: index * 4,
                          as: SIMD8<Float>.self)
        index += 8
    }
    while index < count {
        if activations[index] <= 0 { delta[index] = 0 }
        index += 1
    }
}

