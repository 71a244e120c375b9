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

    /// The `mpirun` options the project's scripts use for `ranks` ranks on this host (more ranks than cores, root
    /// allowed, loopback transports only, ...), from their one source, `scripts/lib/common.sh`.
    public static func mpirunOptions(ranks: Int) -> [String] {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "source \"$0/scripts/lib/common.sh\" && airfoil_dp_mpirun_flags \(ranks)", repository]
        let output = Pipe()
        process.standardOutput = output
        guard (try? process.run()) != nil else { return ["--oversubscribe"] }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.split(separator: "\n").map(String.init)
    }

    static let unblockAndExec = """
        import os, signal, sys
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execvp(sys.argv[1], sys.argv[1:])
        """

    /// Runs `airfoil-dp arguments` under `mpirun -np ranks`, or directly when `ranks` is nil.
    public static func run(
        _ arguments: [String], ranks: Int? = nil, timeout: Double = 120, environment extra: [String: String] = [:]
    ) throws -> Result {
        try start(arguments, ranks: ranks, environment: extra).wait(timeout: timeout)
    }

    /// Runs any command (found on the PATH) with a time limit, in `directory` if given.
    public static func runCommand(
        _ command: [String], environment extra: [String: String] = [:], timeout: Double = 120,
        directory: String? = nil
    ) throws -> Result {
        try start(command: command, environment: extra, directory: directory).wait(timeout: timeout)
    }

    /// Starts any command (found on the PATH), in `directory` if given, and returns at once.
    public static func startCommand(
        _ command: [String], environment extra: [String: String] = [:], directory: String? = nil
    ) throws -> Job {
        try start(command: command, environment: extra, directory: directory)
    }

    /// Starts `airfoil-dp arguments` (under `mpirun -np ranks` when given) and returns at once.
    public static func start(
        _ arguments: [String], ranks: Int? = nil, environment extra: [String: String] = [:]
    ) throws -> Job {
        let command = ranks.map { ["mpirun", "-np", "\($0)"] + mpirunOptions(ranks: $0) + [binary] } ?? [binary]
        return try start(command: command + arguments, environment: extra, directory: nil)
    }

    private static func start(command: [String], environment extra: [String: String], directory: String?) throws
        -> Job
    {
        let process = Process()
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        // Through a tiny exec wrapper that clears the signal mask: a child spawned from a test thread inherits
        // that thread's blocked signals (SIGTERM among them), and mpirun would then ignore the tests' signals. It
        // also gives SIGINT back its default action: a shell that starts with SIGINT ignored cannot trap it.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", unblockAndExec] + command
        var environment = ProcessInfo.processInfo.environment
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        let folder = try SharedData.temporaryDirectory()
        let outPath = folder.appendingPathComponent("stdout").path
        let errPath = folder.appendingPathComponent("stderr").path
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        let job = Job(process: process, folder: folder, outPath: outPath, errPath: errPath)
        try process.run()
        return job
    }

    /// A started run.
    public final class Job {
        let process: Process
        let folder: URL
        let outPath: String
        let errPath: String
        let started = Date()

        init(process: Process, folder: URL, outPath: String, errPath: String) {
            self.process = process
            self.folder = folder
            self.outPath = outPath
            self.errPath = errPath
        }

        /// The launched process (mpirun, or airfoil-dp itself).
        public var pid: Int32 { process.processIdentifier }

        /// The ranks' process ids, when launched under mpirun: mpirun's children, in pid order.
        public var rankPIDs: [Int32] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.compactMap { entry -> Int32? in
                guard let child = Int32(entry),
                      let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")")
                else { return nil }
                // After "pid (name) ": the state, then the parent's pid.
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                return fields.count > 1 && Int32(fields[1]) == pid ? child : nil
            }.sorted()
        }

        /// The `count` ranks' process ids once they have all started (within 20 s, else an error).
        public func waitForRanks(_ count: Int) throws -> [Int32] {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let ranks = rankPIDs
                if ranks.count == count { return ranks }
                usleep(50_000)
            }
            throw CocoaError(.fileReadUnknown)
        }

        /// True until the launched process ends.
        public var isRunning: Bool { process.isRunning }

        /// Returns once the file at `path` holds `text`, the process has ended, or `seconds` have passed.
        public func wait(for path: String, toHold text: String, seconds: Double = 120) {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline && isRunning
                && (try? String(contentsOfFile: path, encoding: .utf8))?.contains(text) != true {
                usleep(20_000)
            }
        }

        /// Sends `signal` to the launched process.
        public func signal(_ signal: Int32) { kill(pid, signal) }

        /// Sends `signal` to the launched process's whole process group, as a terminal's Ctrl-C does (Foundation's
        /// `Process` starts every child as the leader of a group of its own).
        public func signalGroup(_ signal: Int32) { kill(-pid, signal) }

        /// Waits for the end (SIGKILL after `timeout` seconds) and collects the output.
        public func wait(timeout: Double) -> Result {
            var timedOut = false
            while process.isRunning {
                if Date().timeIntervalSince(started) > timeout {
                    timedOut = true
                    // SIGKILL: a child spawned from a test thread inherits its blocked signals, SIGTERM among them.
                    for rank in rankPIDs { kill(rank, SIGKILL) }
                    kill(pid, SIGKILL)
                    break
                }
                usleep(10_000)
            }
            process.waitUntilExit()
            let seconds = Date().timeIntervalSince(started)
            let read = { (path: String) in
                String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
            }
            defer { try? FileManager.default.removeItem(at: folder) }
            return Result(status: process.terminationStatus, standardOutput: read(outPath),
                          standardError: read(errPath), seconds: seconds, timedOut: timedOut)
        }
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
