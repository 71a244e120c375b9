import Common
import Models
import TestSupport
import Testing

/// Every layer's backward pass against central finite differences of a forward pass written separately in Double.
@Suite("The MLP's gradient against finite differences")
struct MultilayerPerceptronTests {
    /// The loss sum `sum (y_hat - y)^2 / 2` of the network, in Double, from first principles: one loop per layer.
    static func referenceLoss(
        _ parameters: [Double], widths: [Int], activation: Activation, inputs: [Float], targets: [Float], rows: Int
    ) -> Double {
        var total = 0.0
        for row in 0..<rows {
            var values = (0..<widths[0]).map { Double(inputs[row * (widths[0] + 1) + $0]) }
            var offset = 0
            for layer in 0..<(widths.count - 1) {
                let (inWidth, outWidth) = (widths[layer], widths[layer + 1])
                var next = [Double](repeating: 0, count: outWidth)
                for out in 0..<outWidth {
                    var sum = parameters[offset + inWidth * outWidth + out]  // the bias row
                    for input in 0..<inWidth { sum += values[input] * parameters[offset + input * outWidth + out] }
                    let hidden = layer < widths.count - 2
                    next[out] = !hidden ? sum : (activation == .relu ? max(sum, 0) : Foundation.tanh(sum))
                }
                offset += (inWidth + 1) * outWidth
                values = next
            }
            let error = values[0] - Double(targets[row])
            total += error * error / 2
        }
        return total
    }

    @Test("each parameter's gradient (every layer, weights and biases) matches central differences",
          arguments: [Activation.relu, .tanh], [0, 1, 7])
    func gradientMatchesFiniteDifferences(activation: Activation, rows: Int) {
        let widths = [3, 5, 4, 1]
        let model = MultilayerPerceptron(widths: widths, activation: activation, maxRows: 8, seed: 11)
        var random = TestRandom(state: 42)
        let inputs = (0..<(rows * 4)).map { $0 % 4 == 3 ? Float(1) : random.float() * 2 }
        let targets = (0..<rows).map { _ in random.float() }
        var gradient = [Float](repeating: .nan, count: model.parameters.count)
        model.accumulateGradient(inputs: inputs, targets: targets, count: rows, into: &gradient)
        let parameters = model.parameterValues.map(Double.init)
        let step = 1e-5
        var worst = 0.0
        for index in parameters.indices {
            var plus = parameters
            var minus = parameters
            plus[index] += step
            minus[index] -= step
            let numeric = (Self.referenceLoss(plus, widths: widths, activation: activation, inputs: inputs,
                                              targets: targets, rows: rows)
                - Self.referenceLoss(minus, widths: widths, activation: activation, inputs: inputs,
                                     targets: targets, rows: rows)) / (2 * step)
            worst = max(worst, abs(numeric - Double(gradient[index])) / max(1, abs(numeric)))
        }
        #expect(worst < 2e-4, "largest relative difference \(worst) (\(activation), \(rows) rows)")
        if rows == 0 { #expect(gradient.allSatisfy { $0 == 0 }) }
    }

    @Test("the loss sum and predictions agree with the Double forward pass, also past maxRows (chunked)")
    func lossAndPredictions() {
        let widths = [2, 6, 1]
        let model = MultilayerPerceptron(widths: widths, activation: .tanh, maxRows: 3, seed: 2)
        var random = TestRandom(state: 7)
        let rows = 10
        let inputs = (0..<(rows * 3)).map { $0 % 3 == 2 ? Float(1) : random.float() }
        let targets = (0..<rows).map { _ in random.float() }
        let reference = Self.referenceLoss(model.parameterValues.map(Double.init), widths: widths, activation: .tanh,
                                           inputs: inputs, targets: targets, rows: rows)
        let loss = model.squaredErrorSum(inputs: inputs, targets: targets, count: rows)
        #expect(abs(loss - reference) <= 1e-5 * reference)
        var predictions = [Float](repeating: 0, count: rows)
        model.predict(inputs: inputs, count: rows, into: &predictions)
        let fromPredictions = zip(predictions, targets).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) / 2 }
        #expect(abs(fromPredictions - reference) <= 1e-5 * reference)
    }

    @Test("initialisation: seeded, identical for one seed, uniform within +-1/sqrt(fan_in) per layer")
    func initialisation() {
        let first = MultilayerPerceptron(widths: [5, 64, 64, 1], activation: .relu, maxRows: 1, seed: 3)
        let again = MultilayerPerceptron(widths: [5, 64, 64, 1], activation: .relu, maxRows: 1, seed: 3)
        let other = MultilayerPerceptron(widths: [5, 64, 64, 1], activation: .relu, maxRows: 1, seed: 4)
        #expect(first.parameters.count == 4609)
        #expect(first.parameterValues == again.parameterValues)
        #expect(first.parameterValues != other.parameterValues)
        let layer1 = first.parameterValues[0..<(6 * 64)]
        let layer2 = first.parameterValues[(6 * 64)..<(6 * 64 + 65 * 64)]
        #expect(layer1.allSatisfy { abs($0) <= 1 / Float(5).squareRoot() })
        #expect(layer1.contains { abs($0) > 0.8 / Float(5).squareRoot() })
        #expect(layer2.allSatisfy { abs($0) <= 1 / Float(64).squareRoot() })
        #expect(ModelSpec(kind: .mlp, hidden: [64, 64]).parameterCount(features: 5) == 4609)
        #expect(ModelSpec.linear.parameterCount(features: 5) == 6)
    }
}

import Foundation

@Suite("Where each layer's weights and bias are")
struct ParameterLayerTests {
    @Test("the MLP's layers in its buffer's order, each bias row after its weights; the linear model's bias last")
    func layers() {
        let mlp = MultilayerPerceptron(widths: [3, 5, 4, 1], activation: .relu, maxRows: 1, seed: 1)
        #expect(mlp.parameterLayers == [
            ParameterLayer(weights: 0..<15, bias: 15..<20), ParameterLayer(weights: 20..<40, bias: 40..<44),
            ParameterLayer(weights: 44..<48, bias: 48..<49),
        ])
        #expect(mlp.parameterBlocks == [0..<20, 20..<44, 44..<49] && mlp.parameters.count == 49)
        let linear = LinearRegression(inputWidth: 6, maxRows: 1, seed: 1)
        #expect(linear.parameterLayers == [ParameterLayer(weights: 0..<5, bias: 5..<6)])
    }
}
