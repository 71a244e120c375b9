import Foundation
import Synchronization

/// Watches a running job from helper threads that never call MPI (MPI is initialised for one thread).
///
/// - Signals: SIGINT and SIGTERM are blocked in every thread (call ``blockTerminationSignals()`` before MPI
///   starts its own threads) and received by one thread with `sigwait`. It writes the run log's
///   `{"type":"end","reason":"interrupted"}` record at once (mpirun sends SIGKILL about a second after
///   forwarding the signal, so waiting for the next evaluation would lose it) and exits with 128 + the signal.
/// - Stalls: the trainer marks when it enters and leaves each collective; if one has been open longer than the
///   stall timeout, the watchdog prints which rank and step and ends the process, which makes mpirun end the
///   job, instead of waiting forever on a rank that will never arrive.
public final class JobMonitor: Sendable {
    /// The step the trainer is at (steps taken), for the messages.
    let step = Atomic<Int>(0)
    /// Monotonic nanoseconds at which the open collective was entered; 0 when none is open.
    let collectiveStart = Atomic<UInt64>(0)
    /// Set when training has ended (done or failed): a signal after that is only mpirun tidying up.
    let finished = Atomic<Bool>(false)

    private let rank: Int
    private let size: Int
    private let stallTimeout: Double
    private let interruptRecord: @Sendable (_ step: Int, _ signal: String) -> Void

    /// Blocks SIGINT and SIGTERM in the calling thread and every thread it creates afterwards.
    public static func blockTerminationSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    /// Starts the signal thread and the watchdog.
    ///
    /// - Parameters:
    ///   - stallTimeout: seconds a collective may stay open before the job is ended.
    ///   - interruptRecord: writes the log's end record (rank 0); called on the signal thread.
    public init(rank: Int, size: Int, stallTimeout: Double,
                interruptRecord: @escaping @Sendable (_ step: Int, _ signal: String) -> Void) {
        self.rank = rank
        self.size = size
        self.stallTimeout = stallTimeout
        self.interruptRecord = interruptRecord
        let signalThread = Thread { [self] in waitForSignals() }
        signalThread.name = "airfoil-dp signals"
        signalThread.start()
        let watchdog = Thread { [self] in watch() }
        watchdog.name = "airfoil-dp watchdog"
        watchdog.start()
    }

    /// Marks the start of a collective at `now` (monotonic nanoseconds).
    @inline(__always)
    public func enterCollective(at now: UInt64) {
        collectiveStart.store(now, ordering: .relaxed)
    }

    /// Marks the end of the open collective.
    @inline(__always)
    public func leaveCollective() {
        collectiveStart.store(0, ordering: .relaxed)
    }

    /// Marks training as over; later signals end the process without an `interrupted` record.
    public func finish() {
        finished.store(true, ordering: .releasing)
        collectiveStart.store(0, ordering: .relaxed)
    }

    /// Publishes the step count.
    @inline(__always)
    public func publish(step value: Int) {
        step.store(value, ordering: .relaxed)
    }

    private func waitForSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        var received: Int32 = 0
        guard sigwait(&signals, &received) == 0 else { return }
        if finished.load(ordering: .acquiring) { _exit(128 + received) }
        let name = received == SIGINT ? "SIGINT" : "SIGTERM"
        let at = step.load(ordering: .relaxed)
        interruptRecord(at, name)
        if rank == 0 {
            Console.err("airfoil-dp: interrupted by \(name) at step \(at)\n")
        }
        _exit(128 + received)
    }

    private func watch() {
        while true {
            usleep(250_000)
            let start = collectiveStart.load(ordering: .relaxed)
            guard start != 0 else { continue }
            let open = MonotonicClock.seconds(from: start, to: MonotonicClock.now())
            if open > stallTimeout {
                Console.error(String(
                    format: "stalled: a collective at step %d has not completed in %.0f s (another rank is stuck "
                        + "or gone); ending the job (--stall-timeout %.0f)",
                    step.load(ordering: .relaxed), open, stallTimeout), rank: rank, size: size)
                _exit(JobFailure.Kind.runtime.rawValue)
            }
        }
    }
}
