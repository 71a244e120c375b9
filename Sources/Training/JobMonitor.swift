import Optimization
import Models
import Data
import Common
import Foundation
import Synchronization

/// Watches a running job for signals and stalls, without ever calling MPI (MPI is initialised for one thread).
///
/// - Signals: the SIGINT and SIGTERM handler does only async-signal-safe work, at once and in whichever thread
///   the kernel interrupts: on rank 0 it appends `{"type":"end","reason":"interrupted",...}` to the run log in
///   one `write` and prints one line; then it exits with 128 + the signal. It must not wait for another thread:
///   mpirun sends SIGKILL about a second after forwarding the signal, and on a loaded machine a waiting thread
///   may not run in time.
/// - Stalls: the trainer marks when it enters and leaves each collective; if one has been open longer than the
///   stall timeout, a watchdog thread prints which rank and step and ends the process, which makes mpirun end
///   the job, instead of waiting forever on a rank that will never arrive.
public final class JobMonitor: Sendable {
    /// Monotonic nanoseconds at which the open collective was entered; 0 when none is open.
    let collectiveStart = Atomic<UInt64>(0)

    private let rank: Int
    private let size: Int
    private let stallTimeout: Double

    /// Installs the signal handlers and starts the watchdog.
    ///
    /// - Parameters:
    ///   - stallTimeout: seconds a collective may stay open before the job is ended.
    ///   - log: rank 0's run log, which an interrupt ends with its `end` record.
    public init(rank: Int, size: Int, stallTimeout: Double, log: RunLog?) {
        self.rank = rank
        self.size = size
        self.stallTimeout = stallTimeout
        InterruptState.prepare(rank: rank, logDescriptor: log?.descriptorForSignalHandler ?? -1)
        signal(SIGINT, handleInterrupt)
        signal(SIGTERM, handleInterrupt)
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

    /// Publishes the step count (steps taken) for the messages.
    @inline(__always)
    public func publish(step value: Int) {
        InterruptState.step.pointee = value
    }

    /// Marks training as over: a later signal (mpirun tidying up after another rank's exit) ends the process
    /// without an `interrupted` record.
    public func finish() {
        InterruptState.finished.pointee = 1
        collectiveStart.store(0, ordering: .relaxed)
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
                    InterruptState.step.pointee, open, stallTimeout), rank: rank, size: size)
                _exit(JobFailure.Kind.runtime.rawValue)
            }
        }
    }
}

/// What the signal handler reads: plain memory allocated before the handler is installed, so the handler
/// needs no allocation, lock or Swift runtime call.
private enum InterruptState {
    nonisolated(unsafe) static let step = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    nonisolated(unsafe) static let finished = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    nonisolated(unsafe) static let isRoot = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    nonisolated(unsafe) static let logDescriptor = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    nonisolated(unsafe) static let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)

    static func prepare(rank: Int, logDescriptor descriptor: Int32) {
        step.pointee = 0
        finished.pointee = 0
        isRoot.pointee = rank == 0 ? 1 : 0
        logDescriptor.pointee = descriptor
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
    if InterruptState.finished.pointee == 0 && InterruptState.isRoot.pointee == 1 {
        let step = InterruptState.step.pointee
        let name: StaticString = number == SIGINT ? "SIGINT" : "SIGTERM"
        if InterruptState.logDescriptor.pointee >= 0 {
            var end = put(#"{"message":"interrupted by "#, at: 0)
            end = put(name, at: end)
            end = put(" at step ", at: end)
            end = put(step, at: end)
            end = put(#"","reason":"interrupted","signal":""#, at: end)
            end = put(name, at: end)
            end = put(#"","step":"#, at: end)
            end = put(step, at: end)
            end = put(#","type":"end"}\#n"#, at: end)
            _ = write(InterruptState.logDescriptor.pointee, InterruptState.buffer, end)
        }
        var end = put("airfoil-dp: interrupted by ", at: 0)
        end = put(name, at: end)
        end = put(" at step ", at: end)
        end = put(step, at: end)
        end = put("\n", at: end)
        _ = write(2, InterruptState.buffer, end)
    } else if InterruptState.finished.pointee == 0 {
        var pause = timespec(tv_sec: 1, tv_nsec: 500_000_000)
        _ = nanosleep(&pause, nil)
    }
    _exit(128 + number)
}
