import Checksums
import Common
import Foundation

/// Downloads the data file from its public home and checks it against a known SHA-1.
///
/// The file is written beside its destination under a temporary name and renamed into place only after its
/// checksum matches, so a failed or corrupt download never leaves a file that looks valid.
public enum DataFetcher {
    /// d2l's data mirror, the URL its `DATA_HUB` uses for `airfoil`.
    public static let defaultURL = "http://d2l-data.s3-accelerate.amazonaws.com/airfoil_self_noise.dat"
    /// The SHA-1 of the airfoil file that d2l publishes.
    public static let expectedSHA1 = "76e5be1548fd8222e5074cf0faae75edff8cf93f"

    /// What ``fetch(from:to:sha1:force:)`` did.
    public enum Outcome: Equatable, Sendable {
        /// The file was already there with the right checksum; nothing was downloaded.
        case alreadyPresent
        /// The file was downloaded, verified and written.
        case downloaded(bytes: Int)
    }

    /// Fetches `source` (an `http`, `https` or `file` URL) into `destination` and verifies its SHA-1.
    ///
    /// - Parameter force: download even when a file with the right checksum is already there.
    /// - Throws: ``JobFailure``: `.usage` for a bad URL, `.missingData` when the download fails,
    ///   `.invalidData` on a checksum mismatch, `.output` when the destination cannot be written.
    public static func fetch(
        from source: String, to destination: String, sha1 expected: String = expectedSHA1, force: Bool = false
    ) async throws -> Outcome {
        let expected = expected.lowercased()
        if !force, let existing = FileManager.default.contents(atPath: destination), Digest.sha1(existing) == expected {
            return .alreadyPresent
        }
        guard let url = URL(string: source), let scheme = url.scheme?.lowercased(),
              ["http", "https", "file"].contains(scheme)
        else {
            throw JobFailure(.usage, "'\(source)' is not an http, https or file URL")
        }
        let data = try await download(url, scheme: scheme)
        let actual = Digest.sha1(data)
        guard actual == expected else {
            throw JobFailure(.invalidData, "the file from '\(source)' has SHA-1 \(actual), expected \(expected): "
                + "it was not saved")
        }
        let folder = PathComponents.folder(of: destination)
        do {
            if !folder.isEmpty {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
        } catch {
            throw JobFailure(.output, "cannot create the folder of '\(destination)': \(error.localizedDescription)")
        }
        try AtomicFile.write([UInt8](data), to: destination, what: "the data file")
        return .downloaded(bytes: data.count)
    }

    /// Reads a `file` URL, or downloads an `http(s)` one with the system's `curl` program: the binary links no
    /// networking stack (FoundationNetworking would pull libcurl and its TLS libraries into every rank's binary and
    /// keep it from running where they differ).
    private static func download(_ url: URL, scheme: String) async throws -> Data {
        if scheme == "file" {
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw JobFailure(.missingData, "cannot read '\(url.path)'")
            }
            return data
        }
        guard let curl = ["/usr/bin/curl", "/bin/curl", "/usr/local/bin/curl"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else {
            throw JobFailure(.missingData, "download of '\(url.absoluteString)' needs the curl program "
                + "(apt-get install curl), or fetch the file yourself and pass --url file:///path")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: curl)
        process.arguments = ["--fail", "--silent", "--show-error", "--location", "--max-time", "60", url.absoluteString]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw JobFailure(.missingData, "download of '\(url.absoluteString)' failed: cannot start \(curl)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let reason = message.split(separator: "\n").first.map(String.init) ?? "curl exit \(process.terminationStatus)"
            throw JobFailure(.missingData, "download of '\(url.absoluteString)' failed: \(reason)")
        }
        return data
    }
}
