import Optimization
import Models
import Data
import Common
import Kernels
import MPI

/// How this binary was built, for `info` and the run log's header.
enum BuildInfo {
    static var settings: String {
        #if DEBUG
        let configuration = "debug (unoptimised; use 'swift build -c release' for real runs)"
        #else
        let configuration = "release, baseline CPU; GEMM kernels per instruction set, -Ounchecked, chosen at run time"
        #endif
        return "\(configuration); this CPU supports " + KernelSet.supported.map(\.name.rawValue).joined(separator: ", ")
    }

    /// The kernel set in use (`AIRFOIL_DP_KERNEL`, else the fastest this CPU supports).
    static var kernel: String { KernelSet.active.name.rawValue }

    static var versions: [String: String] {
        [
            "airfoil_dp": AirfoilDP.version,
            "mpi": Communicator.libraryVersion,
            "mpi_standard": Communicator.standardVersion,
            "build": settings,
        ]
    }
}
