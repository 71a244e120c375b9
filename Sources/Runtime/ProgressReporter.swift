import Common
import Data
import Formats
import Foundation
import Models
import Optimization

/// Rank 0's progress on standard error: a live line on a terminal, a plain line every few seconds elsewhere.
///
/// No progress line begins with `loss:` (that prefix belongs to the summary on standard output), and the
/// reporter only looks at the clock the trainer already reads, so a step costs a comparison when nothing prints.
public struct ProgressReporter {
    private let live: Bool
    private let interval: UInt64
    private var nextReport: UInt64
    private var wroteLiveLine = false

    /// Creates a reporter for `mode`, or `nil` when nothing should be shown.
    public init?(mode: ProgressMode, quiet: Bool, isTerminal: Bool = Console.standardErrorIsTerminal) {
        guard !quiet, mode != .never else { return nil }
        live = mode == .always || isTerminal
        interval = live ? 100_000_000 : 3_000_000_000
        nextReport = MonotonicClock.now() + interval
    }

    /// True when a report is due at time `now`.
    @inline(__always)
    public func isDue(_ now: UInt64) -> Bool { now >= nextReport }

    /// Prints one report and schedules the next.
    public mutating func report(
        now: UInt64, epoch: Double, epochs: Int, step: Int, totalSteps: Int, loss: Double, examplesPerSecond: Double,
        secondsLeft: Double
    ) {
        nextReport = now + interval
        let line = String(
            format: "epoch %.2f/%d  step %d/%d  loss %.4f  %.0f ex/s  %.1fs left",
            epoch, epochs, step, totalSteps, loss, examplesPerSecond, secondsLeft)
        if live {
            Console.err("\r\u{1B}[2K" + line)
            wroteLiveLine = true
        } else {
            Console.err(line + "\n")
        }
    }

    /// Ends a live line so that later output starts on a fresh line.
    public mutating func finish() {
        if wroteLiveLine { Console.err("\r\u{1B}[2K") }
        wroteLiveLine = false
    }
}
