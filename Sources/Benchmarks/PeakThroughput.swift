import Optimization
import Models
import Data
import Common
import Training
import Kernels

/// Measures this core's single-precision peak: twelve independent multiply-add chains as wide as the FMA of the
/// widest instruction set this CPU has (``KernelSet/supported``), so the loop runs at the FMA units' throughput
/// (sustained clock x FLOP per cycle: 32 with two 256-bit FMA pipes, 64 with two 512-bit ones).
/// The result is the best of several runs, since noise from other processes only ever slows it down.
public enum PeakThroughput {
    /// The measured peak in GFLOP/s, and how it was measured.
    public static func measure(iterations: Int = 20_000_000, runs: Int = 5) -> (gflops: Double, method: String) {
        let widest = KernelSet.supported[0]
        var best = 0.0
        for _ in 0..<runs {
            var sink: Float = 0
            let seconds = Timing.seconds { sink = widest.multiplyAddChains(iterations) }
            blackHole(sink)
            best = max(best, Double(iterations) * 12 * Double(widest.fmaLanes) * 2 / seconds / 1e9)
        }
        return (best, "best of \(runs) runs of \(iterations) x 12 independent \(widest.fmaLanes)-lane FMA chains, "
            + widest.name.rawValue)
    }
}

/// Keeps a value alive so the optimiser cannot drop the work that produced it.
@inline(never)
public func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
