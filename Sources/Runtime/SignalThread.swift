import Common
import Foundation
import Synchronization

/// The one thread of the process that receives SIGINT, SIGTERM and SIGUSR1.
///
/// ``start()`` blocks both signals in the calling thread, first thing in `main`, before any other thread exists
/// (MPI's, the watchdog, Dispatch's): every thread created later inherits the mask, so the kernel can deliver them
/// to no thread but this one, which waits for them with `sigwait`. What it then does runs as ordinary code, not in
/// a signal handler: it may take locks, which is how it keeps the run log whole (it writes the `end` record under
/// the log's lock, so the main thread cannot append after it) and how it removes temporary files that no rename
/// will now use (``AtomicFile/removeTemporariesAndExit(_:)``).
public enum SignalThread {
    /// The signals it receives.
    public static let signals: [Int32] = [SIGINT, SIGTERM, SIGUSR1]

    /// What to do on a signal: end the process, or return to wait for the next one (a graceful stop).
    public typealias Handler = @Sendable (Int32) -> Void

    private static let handler = Mutex<Handler>({ signal in AtomicFile.removeTemporariesAndExit(128 + signal) })

    /// Blocks ``signals`` in the calling thread and starts the receiving thread. Call once, from `main`, before
    /// any other thread is created. Until ``setHandler(_:)`` is called, a signal removes temporary files and ends
    /// the process with 128 + the signal, as the default action of each would (minus the files).
    public static func start() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let thread = Thread {
            while true {
                var received: Int32 = 0
                var waitFor = signalSet()
                guard sigwait(&waitFor, &received) == 0 else { continue }
                let current = handler.withLock { $0 }
                current(received)
            }
        }
        thread.name = "airfoil-dp signals"
        thread.start()
    }

    /// Replaces what a signal does (the training job logs and reports it first).
    public static func setHandler(_ newHandler: @escaping Handler) {
        handler.withLock { $0 = newHandler }
    }

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return set
    }
}
