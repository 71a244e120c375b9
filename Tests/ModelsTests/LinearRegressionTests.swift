import Common
import Testing
import Kernels
import Models

@Suite("The linear model's loss and gradient")
struct LinearRegressionTests {
    @Test("gradient sum and squared error match values worked by hand")
    func handWorkedValues() {
        let model = LinearRegression(inputWidth: 3, maxRows: 2, seed: 0)
        model.parameters[0] = 1
        model.parameters[1] = -2
        model.parameters[2] = 0.5  // bias
        // Rows (x1, x2, 1): predictions 1*1 - 2*2 + 0.5 = -2.5 and 3 - 2*(-1) + 0.5 = 5.5.
        let inputs: [Float] = [1, 2, 1, 3, -1, 1]
        let targets: [Float] = [-1.5, 6.5]
        // Residuals: -1 and -1. Loss sum: (1 + 1) / 2 = 1. Gradient sum: X^T r = (-4, -1, -2).
        var gradient: [Float] = [9, 9, 9]
        model.accumulateGradient(inputs: inputs, targets: targets, count: 2, into: &gradient)
        #expect(gradient == [-4, -1, -2])
        #expect(model.squaredErrorSum(inputs: inputs, targets: targets, count: 2) == 1)
    }

    @Test("initial weights are small, seeded, and the bias starts at 0")
    func initialisation() {
        let first = LinearRegression(inputWidth: 6, maxRows: 1, seed: 5)
        let second = LinearRegression(inputWidth: 6, maxRows: 1, seed: 5)
        let other = LinearRegression(inputWidth: 6, maxRows: 1, seed: 6)
        #expect(first.parameterValues == second.parameterValues)
        #expect(first.parameterValues != other.parameterValues)
        #expect(first.parameterValues.last == 0)
        #expect(first.parameterValues.dropLast().allSatisfy { abs($0) < 0.05 && $0 != 0 })
    }

    @Test("zero rows give a zero gradient (a rank with no examples in a short last step)")
    func emptyBatch() {
        let model = LinearRegression(inputWidth: 2, maxRows: 1, seed: 0)
        var gradient: [Float] = [3, 3]
        model.accumulateGradient(inputs: [], targets: [], count: 0, into: &gradient)
        #expect(gradient == [0, 0])
    }
}

@Suite("The linear model's fused gradient over a batch stored by columns")
struct LinearRegressionColumnTests {
    static let kernels = KernelSet.supported.map(\.name)

    /// Batches around the kernel's 32-example groups (0, 1, a group less or more one, several with a tail), widths
    /// of 1, the airfoil data's 6 and 20, columns padded apart as the trainer's epoch buffer keeps them.
    @Test("by columns it matches X^T (X w - y) computed in Double, and the row path, on every kernel set",
          arguments: kernels)
    func matchesReference(kernel: KernelSet.Name) {
        var random = SeededGenerator(seed: 11, stream: 0)
        for width in [1, 6, 20] {
            for count in [0, 1, 5, 31, 32, 33, 64, 100, 257] {
                let columnStride = count + 3
                let model = LinearRegression(inputWidth: width, maxRows: max(count, 1), seed: 3,
                                             kernels: .named(kernel))
                let rows = (0..<(count * width)).map { _ in Float(random.nextNormal()) }
                let targets = (0..<count).map { _ in Float(random.nextNormal()) }
                var columns = [Float](repeating: .nan, count: columnStride * width)
                for row in 0..<count {
                    for feature in 0..<width { columns[feature * columnStride + row] = rows[row * width + feature] }
                }
                let weights = model.parameterValues.map(Double.init)
                var expected = [Double](repeating: 0, count: width)
                var scale = 0.0
                for row in 0..<count {
                    var residual = -Double(targets[row])
                    for feature in 0..<width { residual += weights[feature] * Double(rows[row * width + feature]) }
                    for feature in 0..<width {
                        expected[feature] += residual * Double(rows[row * width + feature])
                        scale += abs(residual * Double(rows[row * width + feature]))
                    }
                }
                var byColumns = [Float](repeating: .nan, count: width)
                columns.withUnsafeBufferPointer { columns in
                    targets.withUnsafeBufferPointer { targets in
                        model.accumulateGradient(
                            .columns(columns.baseAddress!, columnStride: columnStride, targets: targets.baseAddress!,
                                     count: count),
                            into: &byColumns)
                    }
                }
                var byRows = [Float](repeating: .nan, count: width)
                model.accumulateGradient(inputs: rows, targets: targets, count: count, into: &byRows)
                let tolerance = Float(1e-5 * max(scale, 1))
                for feature in 0..<width {
                    #expect(abs(byColumns[feature] - Float(expected[feature])) <= tolerance,
                            "\(kernel) width \(width) count \(count) feature \(feature)")
                    #expect(abs(byColumns[feature] - byRows[feature]) <= tolerance,
                            "\(kernel) width \(width) count \(count) feature \(feature): rows and columns differ")
                }
            }
        }
    }
}
