import Optimization
import Models
import Data
import Common
import Training

/// Measures this core's single-precision peak: a loop of independent fused multiply-adds.
///
/// Twelve 8-lane accumulators hide the FMA latency (4 cycles at 2 per cycle needs at least 8 in flight), so the
/// loop runs at the FMA units' throughput: sustained clock x FLOP per cycle (32 with two 256-bit FMA pipes).
/// The result is the best of several runs, since noise from other processes only ever slows it down.
public enum PeakThroughput {
    public typealias Vector = SIMD8<Float>

    /// The measured peak in GFLOP/s, and how it was measured.
    public static func measure(iterations: Int = 20_000_000, runs: Int = 5) -> (gflops: Double, method: String) {
        var best = 0.0
        for _ in 0..<runs {
            var sink = Vector()
            let seconds = Timing.seconds { sink = fmaLoop(iterations) }
            blackHole(sink)
            best = max(best, Double(iterations) * 12 * 8 * 2 / seconds / 1e9)
        }
        return (best, "best of \(runs) runs of \(iterations) x 12 independent 8-lane FMAs")
    }

    @inline(never)
    static func fmaLoop(_ iterations: Int) -> Vector {
        let scale = Vector(repeating: 0.999_999)
        let offset = Vector(repeating: 1e-7)
        var a0 = Vector(repeating: 1), a1 = Vector(repeating: 2), a2 = Vector(repeating: 3)
        var a3 = Vector(repeating: 4), a4 = Vector(repeating: 5), a5 = Vector(repeating: 6)
        var a6 = Vector(repeating: 7), a7 = Vector(repeating: 8), a8 = Vector(repeating: 9)
        var a9 = Vector(repeating: 10), a10 = Vector(repeating: 11), a11 = Vector(repeating: 12)
        for _ in 0..<iterations {
            a0 = offset.addingProduct(a0, scale)
            a1 = offset.addingProduct(a1, scale)
            a2 = offset.addingProduct(a2, scale)
            a3 = offset.addingProduct(a3, scale)
            a4 = offset.addingProduct(a4, scale)
            a5 = offset.addingProduct(a5, scale)
            a6 = offset.addingProduct(a6, scale)
            a7 = offset.addingProduct(a7, scale)
            a8 = offset.addingProduct(a8, scale)
            a9 = offset.addingProduct(a9, scale)
            a10 = offset.addingProduct(a10, scale)
            a11 = offset.addingProduct(a11, scale)
        }
        return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11
    }
}

/// Keeps a value alive so the optimiser cannot drop the work that produced it.
@inline(never)
public func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
