import Data
import Formats
import Foundation
import Models
import MPI
import TestSupport
import Testing

extension EndToEnd {
    /// The gradient noise scale a run logs, against `tr(Sigma)` and `|G|^2` computed exactly from every example's
    /// gradient at the run's final parameters.
    @Suite("The gradient noise scale under mpirun")
    struct NoiseScaleRunTests {
        /// A run whose parameters barely move (learning rate 1e-6), so that every step estimates the same values,
        /// smoothed over about a thousand steps (decay 0.999); returns its last eval record and saved model.
        private func run(_ arguments: [String], ranks: Int?) throws -> (eval: [String: Any], model: ModelFile) {
            let folder = try SharedData.temporaryDirectory()
            let log = folder.appendingPathComponent("run.jsonl").path
            let modelPath = folder.appendingPathComponent("model.bin").path
            let result = try Launcher.run(
                ["--quiet", "--log", log, "--save-model", modelPath, "--lr", "1e-6", "--global-batch", "64",
                 "--noise-scale-decay", "0.999", "--eval-every", "100000"] + arguments,
                ranks: ranks, timeout: 180)
            try #require(result.status == 0, "\(arguments) at \(ranks ?? 1) ranks: \(result.standardError)")
            let eval = try #require(try RunLogReader.records(at: log).last { $0["type"] as? String == "eval" })
            let bytes = try #require(FileManager.default.contents(atPath: modelPath))
            return (eval, try ModelFile.decode([UInt8](bytes), source: modelPath))
        }

        /// The per-example gradient variance within each rank's shard (denominator N - 1), averaged over the shards
        /// weighted by their rows, and the squared norm of the mean gradient over all rows, in Double.
        private func exact(_ file: ModelFile, data: String, ranks: Int) throws -> (trace: Double, squaredNorm: Double) {
            let shard = try TrainingShard.load(path: data, requestedRows: nil, collective: SingleProcess())
            let model = file.model.make(features: shard.features, maxRows: 1, seed: 0)
            for index in model.parameters.indices { model.parameters[index] = file.parameters[index] }
            let count = model.parameters.count
            let width = shard.inputWidth
            let layout = ShardLayout(rows: shard.rows.count, ranks: ranks, globalBatch: 64)
            var gradient = [Float](repeating: 0, count: count)
            var total = [Double](repeating: 0, count: count)
            var trace = 0.0
            for rank in 0..<ranks {
                var sum = [Double](repeating: 0, count: count)
                var squares = 0.0
                let rows = layout.shard(of: rank)
                for row in rows {
                    shard.inputs.withUnsafeBufferPointer { inputs in
                        shard.targets.withUnsafeBufferPointer { targets in
                            model.accumulateGradient(inputs: inputs.baseAddress! + row * width,
                                                     targets: targets.baseAddress! + row, count: 1, into: &gradient)
                        }
                    }
                    for index in 0..<count {
                        sum[index] += Double(gradient[index])
                        squares += Double(gradient[index]) * Double(gradient[index])
                    }
                }
                let rowCount = Double(rows.count)
                let meanSquares = sum.map { $0 * $0 }.reduce(0, +) / rowCount
                trace += (squares - meanSquares) / (rowCount - 1) * rowCount
                for index in 0..<count { total[index] += sum[index] }
            }
            let allRows = Double(shard.rows.count)
            return (trace / allRows, total.map { $0 * $0 / (allRows * allRows) }.reduce(0, +))
        }

        private func check(_ arguments: [String], data: String, ranks: Int) throws {
            let (eval, file) = try run(["--data", data] + arguments, ranks: ranks)
            let trace = try #require(eval["trace_sigma"] as? Double)
            let squaredNorm = try #require(eval["grad_sq"] as? Double)
            let noiseScale = try #require(eval["noise_scale"] as? Double)
            let expected = try exact(file, data: data, ranks: ranks)
            #expect(abs(trace / expected.trace - 1) <= 0.1, "tr(Sigma) \(trace), exactly \(expected.trace)")
            #expect(abs(squaredNorm / expected.squaredNorm - 1) <= 0.1,
                    "|G|^2 \(squaredNorm), exactly \(expected.squaredNorm)")
            #expect(abs(noiseScale - trace / squaredNorm) <= 1e-9 * noiseScale)
        }

        @Test("the linear model on airfoil: tr(Sigma) and |G|^2 within 10% of the exact values", arguments: [1, 2, 4])
        func linearOnAirfoil(ranks: Int) throws {
            try check(["--epochs", "125"], data: SharedData.path, ranks: ranks)
        }

        @Test("an MLP on synthetic data: tr(Sigma) and |G|^2 within 10% of the exact values", arguments: [1, 2, 4])
        func multilayerPerceptronOnSyntheticData(ranks: Int) throws {
            try check(["--model", "mlp", "--hidden", "16", "--epochs", "100"],
                      data: "synthetic:rows=2000,features=6,noise=0.2,seed=5", ranks: ranks)
        }

        @Test("the 90% interval around noise_scale holds the exact B_simple in 80% to 97% of 60 seeds (linear model)")
        func intervalCoverage() throws {
            let data = "synthetic:rows=100000,features=6,noise=0.5,seed=3"
            var inside = 0
            var widths: [Double] = []
            let seeds = 1...60
            for seed in seeds {
                // The default decay (0.99): about two hundred steps count, 3% of the epoch's 6,250, so the steps'
                // estimates are close to independent draws (at batch 64, 13% of the epoch, the draws without
                // replacement correlate enough to make the interval cover 96% of 120 seeds).
                let (eval, file) = try run(
                    ["--data", data, "--noise-scale-decay", "0.99", "--global-batch", "16", "--epochs", "1",
                     "--seed", "\(seed)"], ranks: nil)
                let low = try #require(eval["noise_scale_lo"] as? Double)
                let high = try #require(eval["noise_scale_hi"] as? Double)
                let expected = try exact(file, data: data, ranks: 1)
                let truth = expected.trace / expected.squaredNorm
                if low <= truth && truth <= high { inside += 1 }
                widths.append(high / low)
            }
            let coverage = Double(inside) / Double(seeds.count)
            let spread = "high / low \(widths.min()!) to \(widths.max()!)"
            #expect((0.8...0.97).contains(coverage), "\(inside) of \(seeds.count) intervals hold B_simple; \(spread)")
        }
    }
}
