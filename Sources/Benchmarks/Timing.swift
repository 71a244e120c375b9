import Optimization
import Models
import Data
import Common
import Training

/// Timing helpers shared by the benchmarks: medians of repeated runs after a warm-up.
public enum Timing {
    /// The median of `values` (the mean of the middle two for an even count); 0 for none.
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Seconds taken by one call of `body`.
    @inline(__always)
    public static func seconds(_ body: () -> Void) -> Double {
        let start = MonotonicClock.now()
        body()
        return MonotonicClock.seconds(from: start, to: MonotonicClock.now())
    }

    /// The median seconds of `repetitions` calls after `warmUp` untimed ones.
    public static func medianSeconds(repetitions: Int, warmUp: Int = 1, _ body: () -> Void) -> Double {
        for _ in 0..<warmUp { body() }
        return median((0..<repetitions).map { _ in seconds(body) })
    }
}
