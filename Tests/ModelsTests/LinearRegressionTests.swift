import Common
import Testing
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
