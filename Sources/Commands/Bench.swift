import Optimization
import Models
import Data
import Common
import ArgumentParser

/// `airfoil-dp bench`: the speed measurements (never run as timed tests).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the GEMM kernel, the raw allreduce and the training step.",
        subcommands: [BenchGEMM.self, BenchAllreduce.self, BenchStep.self])
}

/// Options every benchmark takes.
struct BenchOptions: ParsableArguments {
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Flag(help: "A few seconds' run that only proves the benchmark works (CI); its numbers mean little.")
    var quick = false
}
