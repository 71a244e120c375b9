import Optimization
import Models
import Data
import Common
import MPI

/// How this binary was built, for `info` and the run log's header.
enum BuildInfo {
    static var settings: String {
        #if DEBUG
        let configuration = "debug (unoptimised; use 'swift build -c release' for real runs)"
        #else
        let configuration = "release, kernels -Ounchecked"
        #endif
        return "\(configuration), target CPU \(targetCPU)"
    }

    /// The `-target-cpu` the kernels were compiled for (set by `AIRFOIL_DP_TARGET_CPU` at build time).
    static var targetCPU: String {
        #if DEBUG
        return "baseline (debug builds are not tuned)"
        #elseif TARGET_CPU_HASWELL
        return "haswell (AVX2 + FMA)"
        #elseif TARGET_CPU_NATIVE
        return "native (this build machine's own features)"
        #elseif TARGET_CPU_X86_64
        return "x86-64 (baseline SSE2)"
        #else
        return "custom (see AIRFOIL_DP_TARGET_CPU at build time)"
        #endif
    }

    static var versions: [String: String] {
        [
            "airfoil_dp": AirfoilDP.version,
            "mpi": Communicator.libraryVersion,
            "mpi_standard": Communicator.standardVersion,
            "build": settings,
        ]
    }
}
