import ArgumentParser
import Common
import Data
import Formats
import Models
import Optimization
import Training

/// `airfoil-dp fetch-data`: download the airfoil file and verify its checksum.
struct FetchData: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch-data",
        abstract: "Download the airfoil self-noise data into data/ and verify its SHA-1.",
        discussion: """
            The default source is d2l's data mirror. The UCI Machine Learning Repository's archive \
            (https://archive.ics.uci.edu/dataset/291/airfoil+self+noise) holds the same file in a zip: unpack \
            it and pass the file with --url file:///path/to/airfoil_self_noise.dat.
            """)

    @Option(help: "Where to download from (http, https or file URL).")
    var url: String = DataFetcher.defaultURL

    @Option(help: "Where to write the file.")
    var output: String = DataLocation.defaultPath

    @Option(help: "The expected SHA-1 (hex).")
    var sha1: String = DataFetcher.expectedSHA1

    @Flag(help: "Download even if a verified file is already there.")
    var force = false

    func run() async throws {
        switch try await DataFetcher.fetch(from: url, to: output, sha1: sha1, force: force) {
        case .alreadyPresent:
            Console.out("\(output) is already present (SHA-1 verified)")
        case .downloaded(let bytes):
            Console.out("downloaded \(bytes) bytes to \(output) (SHA-1 verified)")
        }
    }
}
