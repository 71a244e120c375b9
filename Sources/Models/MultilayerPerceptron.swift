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
/// over sums its depth in two interleaved halves), which is why `--reproducible` calls the model one row at a time.
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

    /// Creates the network with PyTorch's default initialisation for linear layers: weights and biases uniform in
    /// `+-1/sqrt(in)`, drawn from `seed` layer by layer (the same on every rank).
    public init(widths: [Int], activation: Activation, maxRows: Int, seed: UInt64, kernels: KernelSet = .active) {
        precondition(widths.count >= 2 && widths.allSatisfy { $0 > 0 })
        gemm = GEMM(kernels: kernels)
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
    }

    deinit {
        parameters.deallocateLineAligned()
        hiddenOutputs.forEach { $0.deallocateLineAligned() }
        hiddenDeltas.forEach { $0.deallocateLineAligned() }
        output.deallocateLineAligned()
    }

    /// The number of layers with parameters (hidden layers and the output).
    public var layers: Int { widths.count - 1 }

    public var inputWidth: Int { widths[0] + 1 }

    /// Rows: each layer is a GEMM over the batch's rows.
    public var gatherLayout: Batch.Layout { .rows }

    public func accumulateGradient(_ batch: Batch, into gradient: UnsafeMutablePointer<Float>) {
        precondition(batch.layout == .rows && batch.stride == inputWidth, "the MLP reads batches row by row")
        let (inputs, targets, count) = (batch.inputs, batch.targets, batch.count)
        guard count > 0 else {
            gradient.update(repeating: 0, count: parameters.count)
            return
        }
        forward(inputs: inputs, count: count)
        let residual = output.baseAddress!
        for row in 0..<count { residual[row] -= targets[row] }
        // From the output back: dW = [a, 1]^T dZ, then dA = dZ W^T and dZ = dA * act'(a) for the layer below.
        var delta = UnsafePointer(residual)
        var deltaStride = 1
        for layer in stride(from: layers - 1, through: 0, by: -1) {
            let inWidth = widths[layer]
            let outWidth = widths[layer + 1]
            let (layerInput, inputStride) = input(of: layer, inputs: inputs)
            gemm.multiply(.transposed, .none, m: inWidth + 1, n: outWidth, k: count, alpha: 1,
                          a: layerInput, lda: inputStride, b: delta, ldb: deltaStride,
                          beta: 0, c: gradient + offsets[layer], ldc: outWidth)
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

    public func squaredErrorSum(inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int) -> Double {
        var total = 0.0
        var start = 0
        while start < count {
            let rows = min(maxRows, count - start)
            forward(inputs: inputs + start * (widths[0] + 1), count: rows)
            for row in 0..<rows {
                let error = Double(output[row]) - Double(targets[start + row])
                total += error * error
            }
            start += rows
        }
        return total / 2
    }

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

