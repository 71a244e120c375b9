import Optimization
import Models
import Data
import Common
import MPI
import Training

/// The latency of one in-place sum-allreduce of a float buffer, the collective the trainer calls every step.
public enum AllreduceBenchmark {
    /// The median seconds of `iterations` allreduces of `floats` floats, each timed alone, after a warm-up of a
    /// tenth as many; all ranks start together (a barrier).
    public static func medianSeconds(collective: some Collective, floats: Int, iterations: Int) throws -> Double {
        Timing.median(try samples(collective: collective, floats: floats, iterations: iterations))
    }

    /// The seconds of each of `iterations` allreduces, after the same warm-up as ``medianSeconds``.
    public static func samples(collective: some Collective, floats: Int, iterations: Int) throws -> [Double] {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(floats, 1))
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 1)
        let durations = UnsafeMutableBufferPointer<Double>.allocate(capacity: iterations)
        defer { durations.deallocate() }
        try collective.barrier()
        for _ in 0..<max(iterations / 10, 10) { try collective.allreduce(buffer, .sum) }
        try collective.barrier()
        for index in 0..<iterations {
            let start = MonotonicClock.now()
            try collective.allreduce(buffer, .sum)
            durations[index] = MonotonicClock.seconds(from: start, to: MonotonicClock.now())
            // Keep the values bounded: repeated sums of ones would overflow to infinity.
            buffer[0] = 1
        }
        return Array(durations)
    }
}
