import ArgumentParser
import Foundation
import Training

/// Runs the command line, printing argument errors once per job rather than once per rank.
///
/// Before MPI is initialised the rank is only known from the launcher's environment; ranks other than 0 exit
/// with the same code silently, so `mpirun -np 16 airfoil-dp --lr x` prints one line, not sixteen.
@main
enum Entry {
    static func main() async {
        do {
            var command = try AirfoilDP.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as JobFailure {
            if !failure.reported && launcherRank == 0 { Console.error(failure.message, rank: 0, size: 1) }
            exit(failure.exitCode)
        } catch {
            let code = AirfoilDP.exitCode(for: error)
            if code == .success || launcherRank != 0 {
                if launcherRank == 0 { AirfoilDP.exit(withError: error) }
                exit(code.rawValue)
            }
            let message = AirfoilDP.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            Console.err("airfoil-dp: error: \(message) (see 'airfoil-dp --help')\n")
            exit(code.rawValue)
        }
    }

    /// This process's rank as the launcher (OpenMPI, PMIx, Slurm) announced it, 0 when not launched.
    static var launcherRank: Int {
        let environment = ProcessInfo.processInfo.environment
        for name in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"] {
            if let value = environment[name], let rank = Int(value) { return rank }
        }
        return 0
    }
}
