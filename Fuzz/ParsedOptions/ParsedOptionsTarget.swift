import Common
import Data
import Formats
import Foundation
import Models
import Optimization
import Training

/// Reads fuzzer bytes as the values options can take: small numbers, raw bits and the edges (0, -1, NaN, the
/// infinities, Int's limits), so that each value costs a byte or nine.
private struct Values {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func raw() -> UInt64 { (0..<8).reduce(0) { value, _ in value << 8 | UInt64(byte()) } }

    mutating func int() -> Int {
        let selector = byte()
        switch selector {
        case 0: return Int(bitPattern: UInt(raw()))
        case 1: return Int.max
        case 2: return Int.min
        case 3: return -1
        default: return Int(selector) * Int(selector % 7 == 0 ? 1000 : 1) - 4
        }
    }

    mutating func double() -> Double {
        let selector = byte()
        switch selector {
        case 0: return Double(bitPattern: raw())
        case 1: return .nan
        case 2: return .infinity
        case 3: return -.infinity
        case 4: return .leastNonzeroMagnitude
        case 5: return .greatestFiniteMagnitude
        default: return Double(selector) / 64 - 0.5
        }
    }

    mutating func optionalInt() -> Int? { byte() % 2 == 0 ? nil : int() }
    mutating func optionalDouble() -> Double? { byte() % 2 == 0 ? nil : double() }
    mutating func pick<T>(_ choices: [T]) -> T { choices[Int(byte()) % choices.count] }

    mutating func string() -> String {
        let count = Int(byte() % 48)
        return String(decoding: (0..<count).map { _ in byte() }, as: UTF8.self)
    }
}

/// libFuzzer target: the validation of options after the command-line parser, without it (the parser builds its
/// arguments by reflection, a hundred inputs a second; this runs thousands): the optimizer's hyperparameters, the
/// batch schedule's text and values, every configuration field, then what a run computes from a configuration that
/// passes (its memory estimate, largest batch, learning rates, batch decisions and AdaScale gains, its log header's
/// round trip), each of which must stay a number in its range.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParsedOptions(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var values = Values(bytes: UnsafeBufferPointer(start: data, count: size))
    do {
        try check(&values)
    } catch let failure as JobFailure {
        precondition(failure.kind == .usage && !failure.message.contains("\n"), "a refusal of the wrong form")
    } catch {
        preconditionFailure("an error that is not a JobFailure: \(error)")
    }
    return 0
}

private func check(_ values: inout Values) throws {
    let kind = values.pick(OptimizerKind.allCases)
    let pairs = (0..<Int(values.byte() % 4)).map { _ in
        (values.byte() % 8 == 0 ? values.string() : values.pick(OptimizerSettings.names), values.double())
    }
    let settings = try OptimizerSettings.resolve(
        kind: kind, hyperparameters: pairs, learningRateFlag: values.optionalDouble(), presetLearningRate: 0.4)
    let schedule = LearningRateSchedule(
        kind: values.pick(LearningRateSchedule.Kind.allCases), factor: values.double(),
        milestones: (0..<Int(values.byte() % 3)).map { _ in values.int() }, minimum: values.double(),
        warmupSteps: values.int())
    var configuration = TrainingConfiguration(
        dataPath: "data.txt", preset: values.pick(Preset.allCases), rows: values.optionalInt(), optimizer: settings,
        schedule: schedule, scaleLR: values.pick(LearningRateScaling.allCases), baseBatch: values.int(),
        maxLR: values.optionalDouble(), globalBatch: values.optionalInt(), epochs: values.optionalInt(),
        seed: values.raw(), evalEvery: values.int())
    configuration.model = ModelSpec(
        kind: values.pick(ModelKind.allCases), hidden: (0..<Int(values.byte() % 3)).map { _ in values.int() },
        activation: values.pick(Activation.allCases))
    configuration.validationRows = values.int()
    configuration.evalEverySteps = values.optionalInt()
    configuration.evalRows = values.optionalInt()
    configuration.timelineSteps = values.int()
    configuration.warmupEpochs = values.optionalDouble()
    configuration.stallTimeout = values.double()
    configuration.noiseScaleDecay = values.optionalDouble()
    configuration.reproducible = values.byte() % 2 == 0 ? nil : true
    let choice = Int(values.byte() % 4)
    let scheduleText = choice < 3 ? ["fixed", "noise", "warmup:4:64:100"][choice] : values.string()
    if var batchSchedule = try BatchSchedule.parse(scheduleText) {
        batchSchedule.every = values.byte() % 4 == 0 ? values.int() : batchSchedule.every
        if batchSchedule.kind == .noise {
            batchSchedule.multiple = values.optionalDouble() ?? batchSchedule.multiple
            batchSchedule.factor = values.optionalDouble() ?? batchSchedule.factor
            batchSchedule.minimum = values.optionalInt()
            batchSchedule.maximum = values.optionalInt()
        }
        configuration.batchSchedule = batchSchedule
    }
    let problems = configuration.problems
    precondition(problems.allSatisfy { !$0.isEmpty && !$0.contains("\n") }, "a problem that is not one line")
    guard problems.isEmpty else { return }
    try checkValid(configuration, &values)
}

/// What a run computes from a configuration its options' validation passed, on data of a fuzzed shape.
private func checkValid(_ configuration: TrainingConfiguration, _ values: inout Values) throws {
    let header = try JSONFormat.encoder().encode(configuration)
    let decoded = try JSONFormat.decoder().decode(TrainingConfiguration.self, from: header)
    precondition(decoded == configuration, "a configuration that does not read back from its log header")
    precondition(configuration.continuationProblem(of: configuration) == nil, "a run that cannot continue itself")
    let rows = 1 + Int(values.byte()) * 997 + Int(values.byte())
    let ranks = 1 + Int(values.byte() % 64)
    guard ranks <= rows else { return }
    let estimate = MemoryEstimate.trainingRank(
        configuration, shape: ShardShape(trainingRows: rows, validationRows: 0, columns: 6, ranks: ranks))
    precondition(estimate.isFinite && estimate > 0, "a memory estimate of \(estimate)")
    // The job refuses a first batch above the rows, a ramp that ends past them and a schedule's floor above the
    // rate before any of this.
    if let batch = configuration.globalBatch, batch > rows { return }
    if let end = configuration.batchSchedule?.end, end > rows { return }
    if configuration.schedule.minimum > configuration.learningRate { return }
    let largest = configuration.largestBatch(ranks: ranks, rows: rows)
    precondition((1...rows).contains(largest), "a largest batch of \(largest) for \(rows) rows")
    for step in [0, 1, 10, 1000, Int(values.byte()) << 20] {
        let rate = configuration.schedule.rate(
            base: configuration.learningRate, step: step, epoch: step / 10, totalSteps: 1000)
        precondition(!rate.isNaN && rate >= 0, "a learning rate of \(rate) at step \(step)")
    }
    var noise = GradientNoiseScale()
    let granularity = configuration.batchGranularity(ranks: ranks)
    var current = configuration.batchSchedule?.fitted(
        Double(configuration.globalBatch ?? rows), granularity: granularity, rows: rows) ?? 1
    for step in 1...8 {
        noise.add(traceSigma: values.double(), squaredNorm: values.double(), decay: configuration.noiseScaleDecay ?? 0.99)
        let gain = noise.gain(batch: current, baseBatch: max(configuration.baseBatch, 1))
        precondition(gain.isFinite && gain > 0, "an AdaScale gain of \(gain)")
        guard let batchSchedule = configuration.batchSchedule else { continue }
        let (after, overflow) = batchSchedule.every.multipliedReportingOverflow(by: step)
        let next = batchSchedule.batch(after: overflow ? Int.max : after, current: current, noise: noise,
                                       granularity: granularity, rows: rows)
        precondition((1...rows).contains(next) && (next == current || next % granularity == 0),
                     "a batch of \(next) from \(current) at granularity \(granularity) for \(rows) rows")
        current = next
    }
}
