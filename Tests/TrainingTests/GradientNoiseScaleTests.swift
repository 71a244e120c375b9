import Common
import Formats
import Foundation
import MPI
import Optimization
import TestSupport
import Testing
import Training

@Suite("The gradient noise scale's estimator")
struct GradientNoiseScaleTests {
    @Test("the averages are bias-corrected from the first step, skip non-finite steps, and give no ratio for |G|^2 <= 0")
    func movingAverages() {
        var noise = GradientNoiseScale()
        #expect(noise.traceSigma == nil && noise.noiseScale == nil)
        noise.add(traceSigma: 4, squaredNorm: 2, decay: 0.99)
        #expect(noise.traceSigma == 4 && noise.squaredNorm == 2 && noise.noiseScale == 2)
        noise.add(traceSigma: .nan, squaredNorm: 1, decay: 0.99)
        noise.add(traceSigma: 1, squaredNorm: .infinity, decay: 0.99)
        #expect(noise.traceSigma == 4 && noise.weight == 1 - 0.99)
        #expect(noise.problem == nil)
        // Two steps at decay 0.5: weights 1/4 and 1/2 over a total of 3/4.
        var halving = GradientNoiseScale()
        halving.add(traceSigma: 2, squaredNorm: 4, decay: 0.5)
        halving.add(traceSigma: 8, squaredNorm: -8, decay: 0.5)
        #expect(halving.traceSigma == 6 && halving.squaredNorm == -4 && halving.noiseScale == nil)
    }

    @Test("the interval is the delta method on log(tr / |G|^2) with the moving averages' weighted (co)variances")
    func interval() throws {
        var noise = GradientNoiseScale()
        noise.add(traceSigma: 10, squaredNorm: 2, decay: 0.5)
        #expect(noise.noiseScale == 5 && noise.noiseScaleInterval == nil, "one step has no scatter")
        let traces = [10.0, 14, 9, 11]
        let norms = [2.0, 2.5, 1.5, 2.2]
        for (trace, norm) in zip(traces, norms).dropFirst() { noise.add(traceSigma: trace, squaredNorm: norm, decay: 0.5) }
        // Weights at decay 0.5 over four steps, oldest first: 1/16, 1/8, 1/4, 1/2.
        let weights = [1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0 / 2]
        let total = weights.reduce(0, +)
        let squares = weights.map { $0 * $0 }.reduce(0, +)
        func mean(_ x: [Double]) -> Double { zip(weights, x).map { $0 * $1 }.reduce(0, +) / total }
        func covariance(_ x: [Double], _ y: [Double]) -> Double {
            let (mx, my) = (mean(x), mean(y))
            let raw = zip(weights, zip(x, y)).map { $0 * ($1.0 - mx) * ($1.1 - my) }.reduce(0, +) / total
            // The unbiased weighted covariance, times the variance factor of a weighted mean.
            return raw / (1 - squares / (total * total)) * squares / (total * total)
        }
        let (trace, norm) = (mean(traces), mean(norms))
        let logVariance = covariance(traces, traces) / (trace * trace) + covariance(norms, norms) / (norm * norm)
            - 2 * covariance(traces, norms) / (trace * norm)
        let spread = 1.6448536269514722 * logVariance.squareRoot()
        let found = try #require(noise.noiseScaleInterval)
        #expect(abs(found.low / (trace / norm * exp(-spread)) - 1) <= 1e-12, "\(found.low)")
        #expect(abs(found.high / (trace / norm * exp(spread)) - 1) <= 1e-12, "\(found.high)")
        #expect(noise.problem == nil)
    }

    @Test("merging two halves gives the share's sum and its n t = |g1 - g2|^2 / (1/h1 + 1/h2) times n")
    func mergedHalves() {
        var random = TestRandom(state: 9)
        for count in [1, 15, 16, 37] {
            let first = (0..<count).map { _ in Float(random.next() % 4001) / 1000 - 2 }
            let second = (0..<count).map { _ in Float(random.next() % 2001) / 1000 - 1 }
            let (firstRows, secondRows) = (3, 4)
            var squares = 0.0
            for index in 0..<count {
                let difference = Double(first[index]) / 3 - Double(second[index]) / 4
                squares += difference * difference
            }
            let expected = 7 * squares / (1.0 / 3 + 1.0 / 4)
            var sum = first
            let found = GradientNoiseScale.mergeHalves(
                &sum, second, count: count, firstRows: firstRows, secondRows: secondRows)
            #expect(abs(found - expected) <= 1e-5 * expected, "\(count) parameters: \(found), expected \(expected)")
            #expect(sum == zip(first, second).map(+))
        }
    }

    /// The eval records of a minibatch100 run (1 rank) with `configure` applied.
    private func evals(_ configure: (inout TrainingConfiguration) -> Void) throws -> [[String: Any]] {
        var configuration = TrainingConfiguration(
            dataPath: SharedData.path, preset: .minibatch100, epochs: 2,
            logPath: try SharedData.temporaryDirectory().appendingPathComponent("run.jsonl").path, progress: .never)
        configure(&configuration)
        try TrainingJob.run(configuration, collective: SingleProcess(), versions: [:], quiet: true)
        return try RunLogReader.records(at: configuration.logPath!).filter { $0["type"] as? String == "eval" }
    }

    @Test("every eval record after the first step carries the estimates; off, none does and the losses agree")
    func loggedAndOptional() throws {
        let on = try evals { _ in }
        #expect(on.first?["noise_scale"] == nil, "no step, no estimate")
        for record in on.dropFirst() {
            let trace = try #require(record["trace_sigma"] as? Double)
            let squaredNorm = try #require(record["grad_sq"] as? Double)
            #expect(trace > 0 && squaredNorm > 0)
            // JSONSerialization may read the last digit differently from the writer.
            #expect(abs(try #require(record["noise_scale"] as? Double) / (trace / squaredNorm) - 1) <= 1e-12)
        }
        let off = try evals { $0.noiseScaleDecay = nil }
        #expect(off.allSatisfy { $0["trace_sigma"] == nil && $0["grad_sq"] == nil && $0["noise_scale"] == nil })
        // On, the gradient is summed by halves, so the two runs agree to rounding.
        for (withEstimate, without) in zip(on, off) {
            let (loss, other) = (withEstimate["loss"] as! Double, without["loss"] as! Double)
            #expect(abs(loss - other) <= 1e-6 * other, "\(loss) against \(other)")
        }
    }

    @Test("a run resumed from a checkpoint logs the same estimates as the run it continues")
    func resumedRunContinuesTheAverages() throws {
        let whole = try evals { _ in }
        let folder = try SharedData.temporaryDirectory()
        let checkpoint = folder.appendingPathComponent("run.ckpt").path
        _ = try evals {
            $0.epochs = 1
            $0.checkpointPath = checkpoint
            $0.checkpointEvery = 15
        }
        let resumed = try evals { $0.resumePath = checkpoint }
        let keys = ["trace_sigma", "grad_sq", "noise_scale"]
        let tail = whole.suffix(resumed.count)
        #expect(resumed.count > 5)
        for (continued, original) in zip(resumed, tail) {
            #expect(keys.map { continued[$0] as? Double } == keys.map { original[$0] as? Double })
        }
    }
}
