import Common
import Testing
import Kernels
import Optimization

@Suite("Update rules of d2l chapter 11, against values worked by hand")
struct OptimizerTests {
    /// Runs two updates of one parameter starting at 1, with gradients 1 then 2 and learning rate 0.1.
    private func twoSteps(_ kind: OptimizerKind, _ adjust: (inout OptimizerSettings) -> Void = { _ in }) -> Float {
        var settings = OptimizerSettings.defaults(for: kind)
        if kind != .adadelta { settings.learningRate = 0.1 }
        adjust(&settings)
        let optimizer = Optimizer(settings: settings, count: 1, layers: [(0..<1, 1..<1)])
        let parameters = UnsafeMutableBufferPointer<Float>.allocate(capacity: 1)
        defer { parameters.deallocate() }
        parameters[0] = 1
        for gradient: Float in [1, 2] {
            // Pass the gradient as a sum over two examples with scale 1/2, as the trainer does.
            var sum = 2 * gradient
            optimizer.update(parameters, gradientSum: &sum, gradientScale: 0.5, learningRate: Float(settings.learningRate))
        }
        return parameters[0]
    }

    @Test("sgd: 1 - 0.1 * 1 - 0.1 * 2 = 0.7")
    func sgd() { #expect(abs(twoSteps(.sgd) - 0.7) < 1e-6) }

    @Test("sgd with weight decay 0.1: 1 - 0.1 * (1 + 0.1), then - 0.1 * (2 + 0.089) = 0.6811")
    func weightDecay() { #expect(abs(twoSteps(.sgd) { $0.wd = 0.1 } - 0.6811) < 1e-6) }

    @Test("momentum 0.5: v = 1, w = 0.9; v = 2.5, w = 0.65")
    func momentum() { #expect(abs(twoSteps(.momentum) { $0.momentum = 0.5 } - 0.65) < 1e-6) }

    @Test("nag 0.5: w = 1 - 0.1 * 1.5 = 0.85; v = 2.5, w = 0.85 - 0.1 * 3.25 = 0.525")
    func nag() { #expect(abs(twoSteps(.nag) { $0.momentum = 0.5 } - 0.525) < 1e-6) }

    @Test("adagrad: s = 1, w = 0.9; s = 5, w = 0.9 - 0.2 / sqrt 5 = 0.810557")
    func adagrad() { #expect(abs(twoSteps(.adagrad) - 0.810_557_3) < 1e-5) }

    @Test("rmsprop gamma1 0.9: s = 0.1, w = 1 - 0.1 / sqrt 0.1; s = 0.49, w -= 0.2 / 0.7 -> 0.398058")
    func rmsprop() { #expect(abs(twoSteps(.rmsprop) - 0.398_058) < 1e-5) }

    @Test("adadelta rho 0.9, epsilon 1e-5: 0.977223 after two steps")
    func adadelta() { #expect(abs(twoSteps(.adadelta) - 0.977_223_4) < 1e-5) }

    @Test("adam with bias correction: 0.9 after one step (whatever the gradient), 0.803482 after two")
    func adam() { #expect(abs(twoSteps(.adam) - 0.803_481_8) < 1e-5) }
}

@Suite("Resolving optimizer settings from the command line")
struct OptimizerSettingsTests {
    @Test("Gluon's defaults, and the preset's rate only for sgd without --lr")
    func defaults() throws {
        let adam = try OptimizerSettings.resolve(kind: .adam, hyperparameters: [], learningRateFlag: nil,
                                                 presetLearningRate: 0.4)
        #expect(adam.learningRate == 0.001 && adam.beta1 == 0.9 && adam.beta2 == 0.999 && adam.epsilon == 1e-8)
        let sgd = try OptimizerSettings.resolve(kind: .sgd, hyperparameters: [], learningRateFlag: nil,
                                                presetLearningRate: 0.4)
        #expect(sgd.learningRate == 0.4)
        let tuned = try OptimizerSettings.resolve(
            kind: .momentum, hyperparameters: [("learning_rate", 0.005), ("momentum", 0.8)], learningRateFlag: 0.005,
            presetLearningRate: 0.4)
        #expect(tuned.learningRate == 0.005 && tuned.momentum == 0.8)
    }

    @Test("conflicting or unknown settings are usage errors",
          arguments: [
              (OptimizerKind.sgd, [("learning_rate", 0.2)], 0.1 as Double?),
              (.adadelta, [], 0.1),
              (.adam, [("bogus", 1)], nil),
              (.rmsprop, [("gamma1", 1.0)], nil),
              (.adagrad, [("epsilon", 0)], nil),
              (.sgd, [("learning_rate", -1)], nil),
          ])
    func refused(kind: OptimizerKind, pairs: [(String, Double)], flag: Double?) {
        #expect(throws: JobFailure.self) {
            try OptimizerSettings.resolve(kind: kind, hyperparameters: pairs, learningRateFlag: flag,
                                          presetLearningRate: 0.4)
        }
    }
}

@Suite("Learning-rate schedules and batch scaling")
struct LearningRateScheduleTests {
    @Test("warmup rises linearly to the base rate, then the schedule takes over")
    func warmup() {
        let schedule = LearningRateSchedule(kind: .constant, warmupSteps: 4)
        #expect((0..<6).map { schedule.rate(base: 1, step: $0, epoch: 0, totalSteps: 10) } == [0.25, 0.5, 0.75, 1, 1, 1])
    }

    @Test("factor decays per step down to its floor; multifactor steps at milestones; cosine ends at the minimum")
    func shapes() {
        let factor = LearningRateSchedule(kind: .factor, factor: 0.5, minimum: 0.2)
        #expect((0..<4).map { factor.rate(base: 1, step: $0, epoch: 0, totalSteps: 4) } == [1, 0.5, 0.25, 0.2])
        let multi = LearningRateSchedule(kind: .multifactor, factor: 0.1, milestones: [2, 4])
        #expect([0, 1, 2, 3, 4].map { multi.rate(base: 1, step: 0, epoch: $0, totalSteps: 1) }
                    .map { ($0 * 1000).rounded() / 1000 } == [1, 1, 0.1, 0.1, 0.01])
        let cosine = LearningRateSchedule(kind: .cosine, minimum: 0.1)
        #expect(cosine.rate(base: 1, step: 0, epoch: 0, totalSteps: 11) == 1)
        #expect(abs(cosine.rate(base: 1, step: 5, epoch: 0, totalSteps: 11) - 0.55) < 1e-12)
        #expect(abs(cosine.rate(base: 1, step: 10, epoch: 0, totalSteps: 11) - 0.1) < 1e-12)
    }

    @Test("linear and sqrt scaling from the base batch, and the cap")
    func scaling() {
        #expect(LearningRateScaling.linear.scale(0.4, batch: 200, baseBatch: 100, maximum: nil) == 0.8)
        #expect(LearningRateScaling.sqrt.scale(0.4, batch: 400, baseBatch: 100, maximum: nil) == 0.8)
        #expect(LearningRateScaling.linear.scale(0.4, batch: 1500, baseBatch: 100, maximum: 0.9) == 0.9)
        #expect(LearningRateScaling.none.scale(0.4, batch: 1500, baseBatch: 100, maximum: nil) == 0.4)
    }
}

/// LARS and LAMB on one layer, weights (3, 4) (norm 5) and a bias of 1, gradient (0.6, 0.8) (norm 1) and 0.5 for the
/// bias, learning rate 0.1: one step, against values worked by hand.
@Suite("Layer-wise rules (LARS, LAMB) against values worked by hand")
struct LayerwiseRuleTests {
    /// One update of the layer; returns the weights, the bias and the first state buffer.
    private func step(_ kind: OptimizerKind, _ adjust: (inout OptimizerSettings) -> Void = { _ in },
                      weights: [Float] = [3, 4], kernels: KernelSet = .active) -> [Float] {
        var settings = OptimizerSettings.defaults(for: kind)
        settings.learningRate = 0.1
        adjust(&settings)
        let optimizer = Optimizer(settings: settings, count: 3, kernels: kernels, layers: [(0..<2, 2..<3)])
        let parameters = UnsafeMutableBufferPointer<Float>.allocate(capacity: 3)
        defer { parameters.deallocate() }
        parameters[0] = weights[0]
        parameters[1] = weights[1]
        parameters[2] = 1
        // The gradient as a sum over four examples with scale 1/4, as the trainer passes it.
        var sums: [Float] = [2.4, 3.2, 2]
        optimizer.update(parameters, gradientSum: &sums, gradientScale: 0.25, learningRate: 0.1)
        return Array(parameters) + Array(optimizer.first)
    }

    @Test("LARS, eta 0.5: trust 0.5 * 5 / 1 = 2.5 on the weights, 1 on the bias")
    func lars() {
        let result = step(.lars) { $0.eta = 0.5 }
        let expected: [Float] = [3 - 0.25 * 0.6, 4 - 0.25 * 0.8, 1 - 0.1 * 0.5]
        for index in 0..<3 { #expect(abs(result[index] - expected[index]) < 1e-6, "\(result)") }
        // The velocity holds the step taken.
        #expect(abs(result[3] - 0.25 * 0.6) < 1e-6 && abs(result[5] - 0.05) < 1e-6)
    }

    @Test("LARS with wd 0.1: trust 2.5 / 1.5, the gradient plus 0.1 w on the weights; the bias takes no decay")
    func larsWeightDecay() {
        let result = step(.lars) { $0.eta = 0.5; $0.wd = 0.1 }
        let trust: Float = 2.5 / 1.5
        let expected: [Float] = [3 - 0.1 * trust * 0.9, 4 - 0.1 * trust * 1.2, 0.95]
        for index in 0..<3 { #expect(abs(result[index] - expected[index]) < 1e-6, "\(result)") }
    }

    @Test("LARS on zero weights: trust 1, so the step is the plain one")
    func larsZeroWeights() {
        let result = step(.lars, { $0.eta = 0.5 }, weights: [0, 0])
        #expect(abs(result[0] + 0.06) < 1e-7 && abs(result[1] + 0.08) < 1e-7)
    }

    @Test("LAMB: the bias-corrected moments give u = g / (|g| + 1e-6) ~ (1, 1); trust 5 / |u| = 3.5355")
    func lamb() {
        let result = step(.lamb)
        let u: [Double] = [0.6 / (0.6 + 1e-6), 0.8 / (0.8 + 1e-6)]
        let trust = 5 / (u[0] * u[0] + u[1] * u[1]).squareRoot()
        let expected = [3 - 0.1 * trust * u[0], 4 - 0.1 * trust * u[1], 1 - 0.1 * 0.5 / (0.5 + 1e-6)]
        for index in 0..<3 { #expect(abs(Double(result[index]) - expected[index]) < 2e-6, "\(result)") }
        #expect(abs(result[3] - 0.06) < 1e-7, "the first moment")
    }

    @Test("LAMB with wd 0.1: u = (1.3, 1.4), trust 5 / 1.9105 on the weights; the bias takes no decay")
    func lambWeightDecay() {
        let result = step(.lamb) { $0.wd = 0.1 }
        let u: [Double] = [0.6 / (0.6 + 1e-6) + 0.3, 0.8 / (0.8 + 1e-6) + 0.4]
        let trust = 5 / (u[0] * u[0] + u[1] * u[1]).squareRoot()
        let expected = [3 - 0.1 * trust * u[0], 4 - 0.1 * trust * u[1], 1 - 0.1 * 0.5 / (0.5 + 1e-6)]
        for index in 0..<3 { #expect(abs(Double(result[index]) - expected[index]) < 2e-6, "\(result)") }
    }

    @Test("the same bits with every kernel set (the rules are not kernels: ranks may run different sets)")
    func sameOnEveryKernelSet() {
        for kind in [OptimizerKind.lars, .lamb] {
            let results = KernelSet.supported.map { set in
                step(kind, { $0.eta = kind == .lars ? 0.3 : nil; $0.wd = 0.01 }, weights: [0.37, -1.9], kernels: set)
                    .map(\.bitPattern)
            }
            #expect(Set(results).count == 1, "\(kind)")
        }
    }

    @Test("eta is LARS's alone, and positive")
    func etaSettings() throws {
        let lars = try OptimizerSettings.resolve(kind: .lars, hyperparameters: [("eta", 0.02)], learningRateFlag: 1,
                                                 presetLearningRate: 0.4)
        #expect(lars.eta == 0.02 && lars.learningRate == 1 && OptimizerSettings.defaults(for: .lars).eta == 0.001)
        #expect(OptimizerSettings.defaults(for: .adam).eta == nil, "absent from other rules' headers")
        #expect(throws: JobFailure.self) {
            try OptimizerSettings.resolve(kind: .lamb, hyperparameters: [("eta", 0.02)], learningRateFlag: nil,
                                          presetLearningRate: 0.4)
        }
        #expect(throws: JobFailure.self) {
            try OptimizerSettings.resolve(kind: .lars, hyperparameters: [("eta", 0)], learningRateFlag: nil,
                                          presetLearningRate: 0.4)
        }
    }
}
