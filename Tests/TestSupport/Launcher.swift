import Foundation

/// Runs the built `airfoil-dp` binary, alone or under `mpirun`, with a hard time limit.
public enum Launcher {
    /// What one run printed and how it ended.
    public struct Result: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
        public var seconds: Double
        public var timedOut: Bool
    }

    /// The built executable: `$AIRFOIL_DP_BINARY`, else `airfoil-dp` beside the test bundle.
    public static var binary: String {
        if let path = ProcessInfo.processInfo.environment["AIRFOIL_DP_BINARY"], !path.isEmpty { return path }
        return URL(fileURLWithPath: Bundle.main.bundlePath).appendingPathComponent("airfoil-dp").path
    }

    /// The `mpirun` options for this machine: more ranks than cores, root allowed, loopback transports only.
    public static let mpirunOptions = [
        "--oversubscribe", "--mca", "btl", "self,vader", "--mca", "oob_tcp_if_include", "lo",
    ]

    /// Runs `airfoil-dp arguments` under `mpirun -np ranks`, or directly when `ranks` is nil.
    public static func run(
        _ arguments: [String], ranks: Int? = nil, timeout: Double = 120, environment extra: [String: String] = [:]
    ) throws -> Result {
        let process = Process()
        if let ranks {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["mpirun", "-np", "\(ranks)"] + mpirunOptions + [binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        let folder = try SharedData.temporaryDirectory()
        let outPath = folder.appendingPathComponent("stdout").path
        let errPath = folder.appendingPathComponent("stderr").path
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        var timedOut = false
        while process.isRunning {
            if Date().timeIntervalSince(start) > timeout {
                timedOut = true
                // SIGKILL: a child spawned from a test thread inherits its blocked signals, SIGTERM among them.
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(10_000)
        }
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        let read = { (path: String) in
            String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        return Result(status: process.terminationStatus, standardOutput: read(outPath),
                      standardError: read(errPath), seconds: seconds, timedOut: timedOut)
    }
}

/// Reads a JSON Lines run log into records.
public enum RunLogReader {
    public static func records(at path: String) throws -> [[String: Any]] {
        let text = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        return try text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    /// The `final_loss` of a log's summary record.
    public static func finalLoss(at path: String) throws -> Double? {
        try records(at: path).last.flatMap { $0["final_loss"] as? Double }
    }
}
