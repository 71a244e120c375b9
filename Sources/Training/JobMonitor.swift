import Common
import Foundation
import MPI
import Synchronization

/// Watches a job for signals and stalls, from before `MPI_Init` to after `MPI_Finalize`, without ever calling MPI
/// (MPI is initialised for `MPI_THREAD_FUNNELED`: only the main thread calls it).
///
/// - Signals: the SIGINT and SIGTERM handler (installed with `sigaction`) does only async-signal-safe work, at once
///   and in whichever thread the kernel interrupts: on rank 0 it appends
///   `{"type":"end","reason":"interrupted",...}` to the run log in one `write` and prints one line; then it exits
///   with 128 + the signal. It must not wait for another thread: mpirun sends SIGKILL about a second after
///   forwarding the signal, and on a loaded machine a waiting thread may not run in time.
/// - Stalls: every collective is marked when it is entered and left (``WatchedCollective``, and ``watch(_:_:)``
///   for `MPI_Init` and `MPI_Finalize`); if one has been open longer than the stall timeout, a watchdog thread
///   prints which rank, operation and step and ends the process, which makes mpirun end the job, instead of
///   waiting forever on a rank that will never arrive.
///
/// Every value the watchdog or the handler reads is an atomic, set before the handler is installed.
public final class JobMonitor: Sendable {
    /// What a rank can be waiting in, for the stall message.
    public enum Operation: Int, Sendable {
        case none = 0, initialize, allreduce, broadcast, allgather, barrier, finalize

        var name: String {
            switch self {
            case .none: "nothing"
            case .initialize: "MPI_Init"
            case .allreduce: "allreduce"
            case .broadcast: "broadcast"
            case .allgather: "allgather"
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

    /// Installs the signal handlers and starts the watchdog.
    ///
    /// - Parameters:
    ///   - rank: the rank as the launcher announced it (``identify(rank:size:)`` corrects it after `MPI_Init`).
    ///   - stallTimeout: seconds a collective may stay open before the job is ended.
    public init(rank: Int, stallTimeout: Double) {
        self.rank = Atomic(rank)
        self.stallTimeout = stallTimeout
        InterruptState.prepare(rank: rank)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handleInterrupt
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
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
        InterruptState.isRoot.store(value == 0, ordering: .relaxed)
    }

    /// Lets an interrupt on rank 0 end the run log with its `end` record (`descriptor` stays open for the run).
    public func attach(logDescriptor descriptor: Int32) {
        InterruptState.logDescriptor.store(descriptor, ordering: .relaxed)
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
        InterruptState.step.store(value, ordering: .relaxed)
    }

    /// Marks training as over: a later signal (mpirun tidying up after another rank's exit) ends the process
    /// without an `interrupted` record.
    public func finishTraining() {
        InterruptState.finished.store(true, ordering: .relaxed)
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
                        + "ending the job (--stall-timeout %g)",
                    name, InterruptState.step.load(ordering: .relaxed), open, stallTimeout),
                    rank: rank.load(ordering: .relaxed), size: max(size.load(ordering: .relaxed), 2))
                _exit(JobFailure.Kind.runtime.rawValue)
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

    public func barrier() throws {
        try monitor.watch(.barrier) { try base.barrier() }
    }

    public func abort(code: Int32) -> Never { base.abort(code: code) }
}

/// What the signal handler reads: atomics (lock-free, so async-signal-safe) and a buffer allocated before the
/// handler is installed, so the handler needs no allocation, lock or lazy initialisation.
private enum InterruptState {
    static let step = Atomic<Int>(0)
    static let finished = Atomic<Bool>(false)
    static let isRoot = Atomic<Bool>(false)
    static let logDescriptor = Atomic<Int32>(-1)
    nonisolated(unsafe) static let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)

    /// Touches every value (Swift initialises statics lazily, which a signal handler must not trigger).
    static func prepare(rank: Int) {
        step.store(0, ordering: .relaxed)
        finished.store(false, ordering: .relaxed)
        isRoot.store(rank == 0, ordering: .relaxed)
        logDescriptor.store(-1, ordering: .relaxed)
        buffer.initialize(repeating: 0, count: 256)
    }
}

/// Appends `text` (ASCII) at `offset` in the handler's buffer; returns the new offset.
private func put(_ text: StaticString, at offset: Int) -> Int {
    let bytes = text.utf8Start
    var index = offset
    for position in 0..<text.utf8CodeUnitCount where index < 255 {
        InterruptState.buffer[index] = bytes[position]
        index += 1
    }
    return index
}

/// Appends the decimal digits of a non-negative `value`.
private func put(_ value: Int, at offset: Int) -> Int {
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0
    var remaining = max(value, 0)
    withUnsafeMutableBytes(of: &digits) { storage in
        repeat {
            storage[count] = UInt8(48 + remaining % 10)
            remaining /= 10
            count += 1
        } while remaining > 0 && count < 20
    }
    var index = offset
    withUnsafeBytes(of: &digits) { storage in
        for position in stride(from: count - 1, through: 0, by: -1) where index < 255 {
            InterruptState.buffer[index] = storage[position]
            index += 1
        }
    }
    return index
}

/// The SIGINT/SIGTERM handler: only loads, `write`, `nanosleep` and `_exit`, all async-signal-safe.
///
/// Other ranks wait 1.5 s before they exit: when mpirun forwards a signal it sends it to every rank, and the
/// first rank to exit makes mpirun SIGKILL the rest at once, which on a loaded machine could reach rank 0 before
/// it has run its handler. mpirun's own SIGKILL (a second after the signal) usually ends them first; a signal
/// sent to one rank alone still ends the job, 1.5 s later.
private func handleInterrupt(_ number: Int32) {
    let finished = InterruptState.finished.load(ordering: .relaxed)
    if !finished && InterruptState.isRoot.load(ordering: .relaxed) {
        let step = InterruptState.step.load(ordering: .relaxed)
        let logDescriptor = InterruptState.logDescriptor.load(ordering: .relaxed)
        let name: StaticString = number == SIGINT ? "SIGINT" : "SIGTERM"
        if logDescriptor >= 0 {
            var end = put(#"{"message":"interrupted by "#, at: 0)
            end = put(name, at: end)
            end = put(" at step ", at: end)
            end = put(step, at: end)
            end = put(#"","reason":"interrupted","signal":""#, at: end)
            end = put(name, at: end)
            end = put(#"","step":"#, at: end)
            end = put(step, at: end)
            end = put(#","type":"end"}\#n"#, at: end)
            _ = write(logDescriptor, InterruptState.buffer, end)
        }
        var end = put("airfoil-dp: interrupted by ", at: 0)
        end = put(name, at: end)
        end = put(" at step ", at: end)
        end = put(step, at: end)
        end = put("\n", at: end)
        _ = write(2, InterruptState.buffer, end)
    } else if !finished {
        var pause = timespec(tv_sec: 1, tv_nsec: 500_000_000)
        _ = nanosleep(&pause, nil)
    }
    _exit(128 + number)
}
