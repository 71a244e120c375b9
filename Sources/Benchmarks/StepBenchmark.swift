import Common
import Data
import Formats
import Kernels
import MPI
import Models
import Optimization
import Training

/// The trainer's own step time at a given global batch, beside the raw allreduce it contains.
public enum StepBenchmark {
    /// What one global batch measured, on rank 0.
    public struct Result: Sendable {
        /// Examples per step across all ranks.
        public var globalBatch: Int
        /// Steps timed.
        public var steps: Int
        /// Median seconds of a whole step (gradient, allreduce, update).
        public var medianStepSeconds: Double
        /// Mean seconds per step in the local gradient and update.
        public var computeSeconds: Double
        /// Mean seconds per step in the allreduce.
        public var allreduceSeconds: Double
        /// Median seconds of a raw allreduce of the same buffer, sampled before and after in the same job.
        public var rawAllreduceSeconds: Double
        /// Median seconds of a whole step of the same run with the gradient noise scale's estimate off.
        public var medianStepWithoutNoiseScaleSeconds: Double

        /// Median seconds of a whole step of the same run with `--reproducible`.
        public var medianStepReproducibleSeconds: Double

        /// What the noise scale's estimate adds to the median step (it is on by default).
        public var noiseScaleSeconds: Double { medianStepSeconds - medianStepWithoutNoiseScaleSeconds }
        /// How many times the default mode's median step `--reproducible` takes.
        public var reproducibleRatio: Double { medianStepReproducibleSeconds / medianStepSeconds }

        /// Median step time over median raw allreduce time.
        public var ratio: Double { medianStepSeconds / rawAllreduceSeconds }
    }

    /// Runs the real trainer for about `steps` steps per batch (evaluation only before and after) and times them,
    /// then runs it again with the noise scale's estimate off, and again with `--reproducible` (on the kernel set
    /// the ranks agree on).
    public static func measure(
        collective: some Collective, shard: TrainingShard, configuration: TrainingConfiguration, batches: [Int],
        steps: Int
    ) throws -> [Result] {
        var results: [Result] = []
        let rows = shard.trainingRows
        let gradientFloats = configuration.allreducedFloats(
            parameterCount: configuration.model.parameterCount(features: shard.features))
        for batch in batches {
            let layout = ShardLayout(rows: rows, ranks: collective.size, globalBatch: batch)
            var settings = configuration
            settings.globalBatch = batch
            settings.epochs = max(1, (steps + layout.stepsPerEpoch - 1) / layout.stepsPerEpoch)
            settings.evalEvery = Int.max / 4
            // The raw allreduce is sampled before and after the training run and the samples pooled, so that a
            // drift in machine load during the run does not favour either side.
            let rawBefore = try AllreduceBenchmark.samples(
                collective: collective, floats: gradientFloats, iterations: steps / 2)
            let (summary, medianStep) = try timedRun(settings, layout: layout, shard: shard, collective: collective)
            let rawAfter = try AllreduceBenchmark.samples(
                collective: collective, floats: gradientFloats, iterations: steps - steps / 2)
            var reproducible = settings
            reproducible.reproducible = true
            let (_, medianStepReproducible) = try timedRun(
                reproducible, layout: layout, shard: shard, collective: collective,
                kernels: try TrainingJob.commonKernels(collective))
            settings.noiseScaleDecay = nil
            let (_, medianStepWithout) = try timedRun(settings, layout: layout, shard: shard, collective: collective)
            results.append(Result(
                globalBatch: batch, steps: summary.steps, medianStepSeconds: medianStep,
                computeSeconds: summary.seconds.compute / Double(summary.steps),
                allreduceSeconds: summary.seconds.allreduce / Double(summary.steps),
                rawAllreduceSeconds: Timing.median(rawBefore + rawAfter),
                medianStepWithoutNoiseScaleSeconds: medianStepWithout,
                medianStepReproducibleSeconds: medianStepReproducible))
        }
        return results
    }

    /// One training run with every step timed: its summary and median step seconds.
    private static func timedRun(
        _ settings: TrainingConfiguration, layout: ShardLayout, shard: TrainingShard, collective: some Collective,
        kernels: KernelSet = .active
    ) throws -> (TrainingSummary, Double) {
        let durations = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: settings.epochs * layout.stepsPerEpoch)
        defer { durations.deallocate() }
        durations.initialize(repeating: 0)
        try collective.barrier()
        var hooks = TrainerHooks()
        hooks.stepDurations = durations
        let trainer = Trainer(
            configuration: settings, shard: shard, layout: layout, collective: collective, kernels: kernels,
            hooks: hooks)
        let summary = try trainer.run()
        return (summary, Timing.median(durations.map { Double($0) * 1e-9 }))
    }
}
