import ArgumentParser
import Commands
import Common
import Foundation
import Kernels
import MPI
import Runtime

/// Runs the command line, printing argument errors once per job rather than once per rank.
///
/// Before MPI is initialised the rank is only known from the launcher's environment; ranks other than 0 exit
/// with the same code silently, so `mpirun -np 16 airfoil-dp --lr x` prints one line, not sixteen.
@main
enum Entry {
    static func main() async {
        // First, before any other thread exists: every thread then inherits the blocked SIGINT and SIGTERM, which
        // only the signal thread receives (SignalThread).
        SignalThread.start()
        AirfoilDP.spellSettingsAsFlags()
        do {
            if case .failure(let problem) = KernelSet.selected { throw JobFailure(.usage, problem.description) }
            var command = try AirfoilDP.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as JobFailure {
            if failure.reported { exit(failure.exitCode) }
            failTogether(failure.message, code: failure.exitCode)
        } catch {
            let code = AirfoilDP.exitCode(for: error)
            if code == .success {
                if Communicator.launcherRank ?? 0 == 0 { AirfoilDP.exit(withError: error) }
                exit(code.rawValue)
            }
            let message = AirfoilDP.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            failTogether("\(message) (see 'airfoil-dp --help')", code: code.rawValue)
        }
    }

    /// Prints `message` once for the whole job and exits with `code` on every rank.
    ///
    /// Every rank finds the same bad argument. Under a launcher, the ranks first meet in a barrier after rank 0
    /// has printed: otherwise a rank that exits first makes mpirun kill rank 0 before its line is out.
    static func failTogether(_ message: String, code: Int32) -> Never {
        // MPI may be started only once per process: after a failed or finished start, print without it.
        let communicator = Communicator.launcherRank == nil || Communicator.hasStarted ? nil : try? Communicator.initialize()
        if Communicator.launcherRank ?? 0 == 0 { Console.err("airfoil-dp: error: \(message)\n") }
        if let communicator {
            try? communicator.barrier()
            communicator.finalize()
        }
        exit(code)
    }
}
