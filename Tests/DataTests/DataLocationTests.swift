import Checksums
import Common
import Foundation
import TestSupport
import Testing
import Data

@Suite("Finding and fetching the data file")
struct DataLocationTests {
    @Test("flag first, then the environment variable, then data/ under the working directory")
    func resolutionOrder() {
        #expect(DataLocation.resolve(flag: "a.dat", environment: ["AIRFOIL_DP_DATA": "b.dat"]) == "a.dat")
        #expect(DataLocation.resolve(flag: nil, environment: ["AIRFOIL_DP_DATA": "b.dat"]) == "b.dat")
        #expect(DataLocation.resolve(flag: nil, environment: ["AIRFOIL_DP_DATA": ""]) == "data/airfoil_self_noise.dat")
        #expect(DataLocation.resolve(flag: nil, environment: [:]) == "data/airfoil_self_noise.dat")
    }

    @Test("the shared copy has d2l's published SHA-1")
    func sharedChecksum() {
        #expect(Digest.sha1(SharedData.bytes) == DataFetcher.expectedSHA1)
    }

    @Test("fetching from a file:// URL verifies, writes, and then finds the file already present")
    func fetchFromFileURL() async throws {
        let folder = try SharedData.temporaryDirectory()
        let destination = folder.appendingPathComponent("data/airfoil_self_noise.dat").path
        let source = URL(fileURLWithPath: SharedData.path).absoluteString
        #expect(try await DataFetcher.fetch(from: source, to: destination) == .downloaded(bytes: 59984))
        #expect(Digest.sha1(FileManager.default.contents(atPath: destination)!) == DataFetcher.expectedSHA1)
        #expect(try await DataFetcher.fetch(from: source, to: destination) == .alreadyPresent)
    }

    @Test("a checksum mismatch is refused and leaves no file behind")
    func checksumMismatch() async throws {
        let folder = try SharedData.temporaryDirectory()
        let corrupt = folder.appendingPathComponent("corrupt.dat")
        var bytes = SharedData.bytes
        bytes[100] ^= 1
        try Data(bytes).write(to: corrupt)
        let destination = folder.appendingPathComponent("out.dat").path
        await #expect(throws: JobFailure.self) {
            try await DataFetcher.fetch(from: corrupt.absoluteString, to: destination)
        }
        #expect(!FileManager.default.fileExists(atPath: destination))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["corrupt.dat"])
    }

    @Test("fetching over HTTP from a local server works, and a 404 is a clear failure")
    func fetchOverHTTP() async throws {
        let folder = try SharedData.temporaryDirectory()
        try FileManager.default.copyItem(atPath: SharedData.path,
                                         toPath: folder.appendingPathComponent("airfoil_self_noise.dat").path)
        let server = try LocalHTTPServer(serving: folder)
        defer { server.stop() }
        let destination = folder.appendingPathComponent("fetched/airfoil.dat").path
        let url = "http://127.0.0.1:\(server.port)/airfoil_self_noise.dat"
        #expect(try await DataFetcher.fetch(from: url, to: destination) == .downloaded(bytes: 59984))
        do {
            _ = try await DataFetcher.fetch(from: "http://127.0.0.1:\(server.port)/missing.dat", to: destination + "2")
            Issue.record("a 404 must fail")
        } catch let failure as JobFailure {
            #expect(failure.message.contains("404"), "\(failure.message)")
        }
    }

    @Test("a URL that is not http, https or file is a usage error")
    func badURL() async {
        do {
            _ = try await DataFetcher.fetch(from: "ftp://example.invalid/x", to: "/tmp/never-written")
            Issue.record("expected a failure")
        } catch let failure as JobFailure {
            #expect(failure.kind == .usage)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}

/// Python's `http.server` on a free loopback port, serving one folder, for the download tests.
///
/// The server writes its port to a file, which the test polls for up to ten seconds.
final class LocalHTTPServer {
    let port: Int
    private let process: Process

    init(serving folder: URL) throws {
        let portFile = folder.appendingPathComponent(".port").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script = """
            import http.server, functools, os, sys
            class Quiet(http.server.SimpleHTTPRequestHandler):
                def log_message(self, *args):
                    pass
            handler = functools.partial(Quiet, directory=sys.argv[1])
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            with open(sys.argv[2] + ".tmp", "w") as f:
                f.write(str(server.server_address[1]))
            os.rename(sys.argv[2] + ".tmp", sys.argv[2])
            server.serve_forever()
            """
        process.arguments = ["python3", "-c", script, folder.path, portFile]
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        var port: Int?
        while port == nil && Date() < deadline && process.isRunning {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8) { port = Int(text) }
            usleep(20_000)
        }
        guard let port else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw CocoaError(.fileReadUnknown)
        }
        self.port = port
    }

    /// Kills the server. SIGKILL, because a child spawned from a test thread inherits that thread's blocked
    /// signals, SIGTERM among them.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
