import Optimization
import Models
import Data
import Common
import ArgumentParser

/// The `airfoil-dp` command: data-parallel minibatch SGD on the airfoil self-noise data, over MPI.
public struct AirfoilDP: AsyncParsableCommand {
    public static let version = "0.3.0"

    public static let configuration = CommandConfiguration(
        commandName: "airfoil-dp",
        abstract: "Data-parallel minibatch SGD over MPI: the chapter's linear model or an MLP, on the airfoil data, any table or synthetic data.",
        discussion: """
            Run it under mpirun to train on many ranks, for example:
              mpirun -np 16 --oversubscribe airfoil-dp --preset minibatch100
            Started without mpirun it trains as a single rank. 'train' is the default subcommand.
            """,
        version: version,
        subcommands: [Train.self, Predict.self, Convert.self, FetchData.self, Info.self, Bench.self, Compare.self, Presets.self],
        defaultSubcommand: Train.self
    )

    public init() {}

    /// Makes every message name settings by their flags (`--global-batch`); call once, when the program starts.
    public static func spellSettingsAsFlags() {
        Setting.spellAsFlags()
    }

    /// Everything `airfoil-dp` does with `arguments` before it starts MPI or touches a file: parsing, validation
    /// and, for `train`, the resolved configuration and its checks. The command-line fuzz target calls it.
    /// - Throws: what the command line would report (an argument-parser error or a ``JobFailure``).
    public static func resolve(_ arguments: [String]) throws {
        spellSettingsAsFlags()
        let command = try parseAsRoot(arguments)
        if let train = command as? Train {
            if let problem = try train.trainingConfiguration().problems.first { throw JobFailure(.usage, problem) }
        }
    }
}
