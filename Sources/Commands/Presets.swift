import ArgumentParser
import Common
import Formats
import Foundation
import Training

/// `airfoil-dp presets`: the chapter's experiments, the one source the scripts read them from.
struct Presets: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the presets: name, learning rate, global batch (0: all training rows) and epochs.",
        discussion: "Scripts read this (tab-separated, one preset per line) instead of keeping their own copies.")

    @Flag(help: "One JSON array instead of tab-separated lines.")
    var json = false

    func run() throws {
        let rows = Preset.allCases.map { ($0.rawValue, $0.learningRate, $0.globalBatch ?? 0, $0.epochs) }
        if json {
            let objects = rows.map { ["name": $0.0, "lr": $0.1, "global_batch": $0.2, "epochs": $0.3] as [String: Any] }
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys])
            Console.out(String(decoding: data, as: UTF8.self))
        } else {
            for (name, lr, batch, epochs) in rows { Console.out("\(name)\t\(lr)\t\(batch)\t\(epochs)") }
        }
    }
}
