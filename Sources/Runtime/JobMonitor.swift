import Common
import Formats
import Foundation
import MPI
import Synchronization

/// Watches a job for signals and stalls, from before `MPI_Init` to after `MPI_Finalize`, without ever calling MPI
/// (MPI is initialised for `MPI_THREAD_FUNNELED`: only the main thread calls it).
///
/// - Graceful stops: SIGUSR1 (and SIGTERM when the job asks for it, `--graceful-signal TERM`) only sets a flag,
///   ``isStopRequested``, which the trainer sends in each step's allreduce: every rank stops at the same step
///   boundary, checkpoints and exits 75. A second signal, or the grace time running out (the watchdog checks),
///   ends the job as an interrupt does.
/// - Signals: SIGINT and SIGTERM reach only the process's ``SignalThread``, which runs ``interrupt(_:)``: on rank 0
///   it appends `{"type":"end","reason":"interrupted",...}` to the run log under the log's lock (so the main thread
///   can append nothing after it) and prints one line; every rank then removes its temporary files and exits with
///   128 + the signal. It must not wait long: mpirun sends SIGKILL about a second after forwarding the signal.
/// - Stalls: every collective is marked when it is entered and left (``WatchedCollective``, and ``watch(_:_:)``
///   for `MPI_Init` and `MPI_Finalize`); if one has been open longer than the stall timeout, a watchdog thread
///   prints which rank, operation and step and ends the process, which makes mpirun end the job, instead of
///   waiting forever on a rank that will never arrive.
///
/// Every value the watchdog or the signal thread reads is an atomic or behind a lock.
public final class JobMonitor: Sendable {
    /// What a rank can be waiting in, for the stall message.
    public enum Operation: Int, Sendable {
        case none = 0, initialize, allreduce, broadcast, allgather, barrier, finalize, alltoall

        var name: String {
            switch self {
            case .none: "nothing"
            case .initialize: "MPI_Init"
            case .allreduce: "allreduce"
            case .broadcast: "broadcast"
            case .allgather: "allgather"
            case .alltoall: "alltoall"
            case .barrier: "barrier"
            case .finalize: "MPI_Finalize"
            }
        }
    }

    /// The number of the open collective (they are numbered from 1 as they are entered); 0 when none is open.
    /// The watchdog times how long one number stays open, so entering a collective reads no clock: the read was
    /// about a tenth of the one-rank sgd step.
    private let openCollective = Atomic<UInt64>(0)
    /// Collectives entered so far (written by the main thread only).
    private let entered = Atomic<UInt64>(0)
    /// The open collective's ``Operation``.
    private let operation = Atomic<Int>(0)
    /// This process's rank and the job's size, once MPI knows them (the launcher's rank before).
    private let rank: Atomic<Int>
    private let size = Atomic<Int>(0)
    /// Set by ``finish()``; the watchdog leaves its loop when it sees it.
    private let stopping = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)
    private let stallTimeout: Double
    /// Steps taken, for the messages.
    private let step = Atomic<Int>(0)
    /// Set once training is over: a later signal is mpirun tidying up, not an interrupt.
    private let finished = Atomic<Bool>(false)
    /// Rank 0's run log, which an interrupt ends with its `end` record.
    private let log = Mutex<RunLog?>(nil)
    /// The signals that ask for a graceful stop, and the seconds a stop may take before the job is ended.
    private let gracefulSignals: [Int32]
    private let graceSeconds: Double
    /// The graceful signal received (0: none yet), and the monotonic time by which the job must have stopped.
    /// (Visible to inlined code: the trainer reads it every step.)
    @usableFromInline let stopSignal = Atomic<Int32>(0)
    private let graceDeadline = Atomic<UInt64>(0)

    /// Takes over the ``SignalThread``'s signals and starts the watchdog.
    ///
    /// - Parameters:
    ///   - rank: the rank as the launcher announced it (``identify(rank:size:)`` corrects it after `MPI_Init`).
    ///   - stallTimeout: seconds a collective may stay open before the job is ended.
    ///   - gracefulSignals: the signals that stop the job at the next step boundary instead of at once.
    ///   - graceSeconds: how long such a stop may take before the job is ended as by an interrupt.
    public init(rank: Int, stallTimeout: Double, gracefulSignals: [Int32] = [SIGUSR1], graceSeconds: Double = 60) {
        self.rank = Atomic(rank)
        self.stallTimeout = stallTimeout
        self.gracefulSignals = gracefulSignals
        self.graceSeconds = graceSeconds
        SignalThread.setHandler { [self] signal in receive(signal) }
        let watchdog = Thread { [self] in
            watch()
            stopped.signal()
        }
        watchdog.name = "airfoil-dp watchdog"
        watchdog.start()
    }

    /// Records the rank and size MPI gives.
    public func identify(rank value: Int, size jobSize: Int) {
        rank.store(value, ordering: .relaxed)
        size.store(jobSize, ordering: .relaxed)
    }

    /// Lets an interrupt on rank 0 end `runLog` with its `end` record.
    public func attach(log runLog: RunLog) {
        log.withLock { $0 = runLog }
    }

    /// Runs `body`, a call that waits for the other ranks, under the watchdog.
    public func watch<Value>(_ operation: Operation, _ body: () throws -> Value) rethrows -> Value {
        enter(operation)
        defer { leave() }
        return try body()
    }

    /// Marks the start of `operation`.
    @inline(__always)
    public func enter(_ operation: Operation) {
        self.operation.store(operation.rawValue, ordering: .relaxed)
        let number = entered.load(ordering: .relaxed) &+ 1
        entered.store(number, ordering: .relaxed)
        openCollective.store(number, ordering: .relaxed)
    }

    /// Marks the end of the open collective.
    @inline(__always)
    public func leave() {
        openCollective.store(0, ordering: .relaxed)
    }

    /// Publishes the step count (steps taken) for the messages.
    @inline(__always)
    public func publish(step value: Int) {
        step.store(value, ordering: .relaxed)
    }

    /// True once a graceful signal asked the job to stop (read by the trainer before each step's allreduce).
    @inlinable
    public var isStopRequested: Bool { stopSignal.load(ordering: .relaxed) != 0 }

    /// The graceful signal's name, for the `end` record (nil before one arrived).
    public var stopSignalName: String? {
        let signal = stopSignal.load(ordering: .relaxed)
        return signal == 0 ? nil : Self.name(of: signal)
    }

    static func name(of signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGUSR1: "SIGUSR1"
        default: "signal \(signal)"
        }
    }

    /// Marks training as over: a later signal (mpirun tidying up after another rank's exit) ends the process
    /// without an `interrupted` record.
    public func finishTraining() {
        finished.store(true, ordering: .relaxed)
    }

    /// Stops the watchdog and waits for its thread to end (at most one polling interval).
    public func finish() {
        finishTraining()
        openCollective.store(0, ordering: .relaxed)
        stopping.store(true, ordering: .relaxed)
        stopped.wait()
    }

    /// Samples the open collective every 100 ms: one that is still open under the same number has been open at
    /// least since it was first seen.
    private func watch() {
        var seen: UInt64 = 0
        var seenSince: UInt64 = 0
        while !stopping.load(ordering: .relaxed) {
            usleep(100_000)
            let deadline = graceDeadline.load(ordering: .relaxed)
            if deadline != 0 && MonotonicClock.now() > deadline && !finished.load(ordering: .relaxed) {
                interrupt(stopSignal.load(ordering: .relaxed), reason: String(
                    format: "did not stop within %g s of the graceful signal (%@)", graceSeconds,
                    Setting.graceSeconds.description))
            }
            let number = openCollective.load(ordering: .relaxed)
            guard number != 0 else { continue }
            let now = MonotonicClock.now()
            if number != seen {
                seen = number
                seenSince = now
            }
            let open = MonotonicClock.seconds(from: seenSince, to: now)
            if open > stallTimeout {
                let name = (Operation(rawValue: operation.load(ordering: .relaxed)) ?? .none).name
                Console.error(String(
                    format: "stalled: %@ at step %d has not completed in %.0f s (another rank is stuck or gone); "
                        + "ending the job (\(Setting.stallTimeout) %g)",
                    name, step.load(ordering: .relaxed), open, stallTimeout),
                    rank: rank.load(ordering: .relaxed), size: max(size.load(ordering: .relaxed), 2))
                AtomicFile.removeTemporariesAndExit(JobFailure.Kind.runtime.rawValue)
            }
        }
    }
}

/// A collective whose every operation runs under a ``JobMonitor``'s watchdog.
public struct WatchedCollective<Base: Collective>: Collective {
    public let base: Base
    public let monitor: JobMonitor

    public init(_ base: Base, monitor: JobMonitor) {
        self.base = base
        self.monitor = monitor
    }

    public var rank: Int { base.rank }
    public var size: Int { base.size }

    public func allreduce(_ values: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) throws {
        try monitor.watch(.allreduce) { try base.allreduce(values, operation) }
    }

    public func allreduce(_ values: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) throws {
        try monitor.watch(.allreduce) { try base.allreduce(values, operation) }
    }

    public func allreduce(_ values: UnsafeMutableBufferPointer<Int64>, _ operation: ReduceOperation) throws {
        try monitor.watch(.allreduce) { try base.allreduce(values, operation) }
    }

    public func broadcast(_ bytes: inout [UInt8], root: Int) throws {
        try monitor.watch(.broadcast) { try base.broadcast(&bytes, root: root) }
    }

    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        try monitor.watch(.allgather) { try base.allgather(bytes) }
    }

    public func alltoall(_ values: [Int64], countPerRank: Int) throws -> [Int64] {
        try monitor.watch(.alltoall) { try base.alltoall(values, countPerRank: countPerRank) }
    }

    public func barrier() throws {
        try monitor.watch(.barrier) { try base.barrier() }
    }

    public func abort(code: Int32) -> Never { base.abort(code: code) }
}

extension JobMonitor {
    /// What a signal does: the first graceful one asks for a stop at the next step boundary (and starts the grace
    /// time); after training, a graceful one is ignored (the job is ending anyway); any other signal, or a second
    /// graceful one, interrupts.
    func receive(_ signal: Int32) {
        if gracefulSignals.contains(signal) {
            if finished.load(ordering: .relaxed) { return }
            if stopSignal.compareExchange(expected: 0, desired: signal, ordering: .relaxed).exchanged {
                graceDeadline.store(
                    MonotonicClock.now() + UInt64(graceSeconds * 1e9), ordering: .relaxed)
                if rank.load(ordering: .relaxed) == 0 {
                    Console.err("airfoil-dp: \(Self.name(of: signal)) at step \(step.load(ordering: .relaxed)): "
                        + "stopping at the next step boundary (checkpoint, then exit 75)\n")
                }
                return
            }
        }
        interrupt(signal)
    }

    /// Ends the process after SIGINT or SIGTERM: rank 0 logs an `interrupted` record and prints one line, unless
    /// training is over.
    ///
    /// Other ranks wait 1.5 s before they exit: when mpirun forwards a signal it sends it to every rank, and the
    /// first rank to exit makes mpirun SIGKILL the rest at once, which on a loaded machine could reach rank 0 before
    /// it has written its record. mpirun's own SIGKILL (a second after the signal) usually ends them first; a signal
    /// sent to one rank alone still ends the job, 1.5 s later.
    func interrupt(_ signal: Int32, reason: String? = nil) -> Never {
        let code = 128 + signal
        guard !finished.load(ordering: .relaxed) else { AtomicFile.removeTemporariesAndExit(code) }
        guard rank.load(ordering: .relaxed) == 0 else {
            usleep(1_500_000)
            AtomicFile.removeTemporariesAndExit(code)
        }
        let step = step.load(ordering: .relaxed)
        let name = Self.name(of: signal)
        let message = "interrupted by \(name) at step \(step)" + (reason.map { ": \($0)" } ?? "")
        let end = EndRecord(reason: "interrupted", step: step, message: message, signal: name)
        if let runLog = log.withLock({ $0 }) {
            runLog.appendLast(end) {
                Console.err("airfoil-dp: \(message)\n")
                AtomicFile.removeTemporariesAndExit(code)
            }
        }
        Console.err("airfoil-dp: \(message)\n")
        AtomicFile.removeTemporariesAndExit(code)
    }
}
