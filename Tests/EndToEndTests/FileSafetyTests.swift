import Common
import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// Outputs never destroy inputs, other outputs or special files; no input or output blocks; a full disk loses no
    /// record; killed runs leave no temporary file behind.
    @Suite("Files: inputs, outputs, special files and full disks")
    struct FileSafetyTests {
        /// A copy of the airfoil data and a model trained on it, in a fresh folder.
        static func folderWithDataAndModel() throws -> (folder: URL, data: String, model: String) {
            let folder = try SharedData.temporaryDirectory()
            let data = folder.appendingPathComponent("d.dat").path
            try FileManager.default.copyItem(atPath: SharedData.path, toPath: data)
            let model = folder.appendingPathComponent("m.model").path
            let trained = try Launcher.run(["--data", data, "--epochs", "1", "--quiet", "--save-model", model])
            try #require(trained.status == 0, "\(trained.standardError)")
            return (folder, data, model)
        }

        static func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

        @Test("an output that is an input or another output is refused with 64 and one line, the file untouched")
        func outputThatIsAnInput() throws {
            let (folder, data, model) = try Self.folderWithDataAndModel()
            let log = folder.appendingPathComponent("run.jsonl").path
            let logged = try Launcher.run(["--data", data, "--epochs", "1", "--quiet", "--log", log])
            try #require(logged.status == 0)
            let cases: [(arguments: [String], kept: String, says: String)] = [
                (["--data", data, "--checkpoint", data, "--checkpoint-every", "5"], data, "is the --data file"),
                (["--data", data, "--save-model", folder.path + "/./d.dat"], data, "is the --data file"),
                (["predict", model, "--data", data, "--output", model], model, "is the model file"),
                (["--data", data, "--log", log, "--overwrite", "--checkpoint", log, "--checkpoint-every", "5"], log,
                 "name the same file"),
                (["--data", data, "--log", log, "--overwrite", "--save-model", log], log, "name the same file"),
            ]
            for (arguments, kept, says) in cases {
                let before = Self.contents(kept)
                let result = try Launcher.run(arguments)
                #expect(result.status == 64, "\(arguments): \(result.standardError)")
                #expect(result.standardError.contains(says), "\(arguments): \(result.standardError)")
                #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
                #expect(Self.contents(kept) == before, "\(arguments) changed \(kept)")
            }
        }

        @Test("a device node is written through by predict and never replaced; a FIFO without reader is refused")
        func specialFilesAreNeverReplaced() throws {
            let (folder, data, model) = try Self.folderWithDataAndModel()
            // A private null device (root only; CI runs as root), so no system device is at risk if this fails.
            let device = folder.appendingPathComponent("null").path
            // makedev(1, 3), /dev/null: major 1 and minor 3 in glibc's encoding.
            let made = mknod(device, S_IFCHR | 0o666, dev_t(1 << 8 | 3))
            if made == 0 {
                let predicted = try Launcher.run(["predict", model, "--data", data, "--output", device])
                #expect(predicted.status == 0, "\(predicted.standardError)")
                let checkpoint = try Launcher.run(
                    ["--data", data, "--epochs", "1", "--quiet", "--checkpoint", device, "--checkpoint-every", "2"])
                #expect(checkpoint.status == 73, "\(checkpoint.standardError)")
                #expect(checkpoint.standardError.contains("is a character device"), "\(checkpoint.standardError)")
                var status = stat()
                #expect(lstat(device, &status) == 0 && FileKind(mode: status.st_mode) == .characterDevice)
            } else {
                Issue.record("mknod failed (\(SystemError().reason)): run the tests as root to check device nodes")
            }
            let fifo = folder.appendingPathComponent("fifo").path
            try #require(mkfifo(fifo, 0o644) == 0)
            let noReader = try Launcher.run(["predict", model, "--data", data, "--output", fifo], timeout: 30)
            #expect(!noReader.timedOut)
            #expect(noReader.status == 73, "\(noReader.standardError)")
            #expect(noReader.standardError.contains("the FIFO has no reader"), "\(noReader.standardError)")
            let toStandardOutput = try Launcher.run(["predict", model, "--data", data, "--output", "/dev/stdout"])
            #expect(toStandardOutput.status == 0, "\(toStandardOutput.standardError)")
            let lines = toStandardOutput.standardOutput.split(separator: "\n")
            #expect(lines.count == 1501, "\(lines.prefix(3))")
            #expect(lines.last?.hasPrefix("loss: ") == true)
        }

        @Test("a symbolic link to an output is kept and its target replaced")
        func symbolicLinkKept() throws {
            let (folder, data, _) = try Self.folderWithDataAndModel()
            let link = folder.appendingPathComponent("latest.model").path
            let target = folder.appendingPathComponent("target.model").path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "target.model")
            let result = try Launcher.run(["--data", data, "--epochs", "1", "--quiet", "--save-model", link])
            #expect(result.status == 0, "\(result.standardError)")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "target.model")
            let saved = Self.contents(target) ?? Data()
            #expect(String(decoding: saved.prefix(16), as: UTF8.self) == "airfoil-dp model")
        }

        @Test("an output whose folder is missing or read-only is refused with 73 before any training")
        func unwritableOutputBeforeTraining() throws {
            let (folder, data, _) = try Self.folderWithDataAndModel()
            let missing = try Launcher.run(["--data", data, "--epochs", "1", "--save-model", "/nonexistent/m"])
            #expect(missing.status == 73)
            #expect(missing.standardError.contains("its folder '/nonexistent' does not exist"), "\(missing.standardError)")
            #expect(!missing.standardOutput.contains("loss:"), "it trained first: \(missing.standardOutput)")
            let readOnly = folder.appendingPathComponent("read-only").path
            try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: false)
            try #require(chmod(readOnly, 0o555) == 0)
            // Root may write anywhere a mode bit forbids; a read-only bind mount would be needed to see it refused.
            if getuid() != 0 {
                let denied = try Launcher.run(
                    ["--data", data, "--epochs", "1", "--save-model", readOnly + "/m", "--quiet"])
                #expect(denied.status == 73, "\(denied.standardError)")
                #expect(denied.standardError.contains("is not writable"), "\(denied.standardError)")
            }
        }

        @Test("--resume appends only to this run's log, gives a new log a header compare accepts, mends a torn line")
        func resumedLogs() throws {
            let (folder, data, _) = try Self.folderWithDataAndModel()
            let checkpoint = folder.appendingPathComponent("run.ckpt").path
            let log = folder.appendingPathComponent("run.jsonl").path
            let base = ["--data", data, "--quiet"]
            let first = try Launcher.run(
                base + ["--epochs", "2", "--log", log, "--checkpoint", checkpoint, "--checkpoint-every", "20"])
            try #require(first.status == 0, "\(first.standardError)")

            // Any other file: a copy of the data, or the log of a run with another batch.
            let copy = folder.appendingPathComponent("copy.dat").path
            try FileManager.default.copyItem(atPath: data, toPath: copy)
            let onData = try Launcher.run(base + ["--epochs", "3", "--resume", checkpoint, "--log", copy])
            #expect(onData.status == 73, "\(onData.standardError)")
            #expect(onData.standardError.contains("does not start with a run log header"), "\(onData.standardError)")
            #expect(Self.contents(copy) == Self.contents(data))
            let otherLog = folder.appendingPathComponent("other.jsonl").path
            let other = try Launcher.run(base + ["--epochs", "1", "--global-batch", "10", "--log", otherLog])
            try #require(other.status == 0)
            let before = Self.contents(otherLog)
            let onOther = try Launcher.run(base + ["--epochs", "3", "--resume", checkpoint, "--log", otherLog])
            #expect(onOther.status == 73, "\(onOther.standardError)")
            #expect(onOther.standardError.contains("was written with global batch 10, not 100"), "\(onOther.standardError)")
            #expect(Self.contents(otherLog) == before)

            // A new log: a header, then the resume record; compare reads it.
            let fresh = folder.appendingPathComponent("fresh.jsonl").path
            let resumedFresh = try Launcher.run(base + ["--epochs", "3", "--resume", checkpoint, "--log", fresh])
            #expect(resumedFresh.status == 0, "\(resumedFresh.standardError)")
            let records = try RunLogReader.records(at: fresh)
            #expect(records.first?["type"] as? String == "header")
            #expect(records.dropFirst().first?["type"] as? String == "resume")
            let compared = try Launcher.run(["compare", fresh])
            #expect(compared.status == 0, "\(compared.standardError)")

            // The run's own log, ending in a torn record: the torn bytes go, with a note, and the log stays whole.
            let handle = try #require(FileHandle(forWritingAtPath: log))
            handle.seekToEndOfFile()
            handle.write(Data(#"{"type":"eval","ste"#.utf8))
            try handle.close()
            let resumed = try Launcher.run(base + ["--epochs", "3", "--resume", checkpoint, "--log", log])
            #expect(resumed.status == 0, "\(resumed.standardError)")
            #expect(resumed.standardError.contains("ended in a torn record (19 bytes"), "\(resumed.standardError)")
            #expect(try RunLogReader.records(at: log).last?["type"] as? String == "summary")
            #expect(try Launcher.run(["compare", log]).status == 0)
        }

        @Test("nothing blocks on a FIFO: data, model, log, --same-run-as and compare inputs are refused at once")
        func fifosNeverBlock() throws {
            let (folder, data, model) = try Self.folderWithDataAndModel()
            let fifo = folder.appendingPathComponent("fifo").path
            try #require(mkfifo(fifo, 0o644) == 0)
            let cases: [(arguments: [String], ranks: Int?, status: Int32, says: String)] = [
                (["--data", fifo, "--stall-timeout", "3"], nil, 66, "data file '\(fifo)' is a FIFO (named pipe)"),
                (["--data", fifo, "--stall-timeout", "3"], 2, 66, "data file '\(fifo)' is a FIFO (named pipe)"),
                (["predict", model, "--data", fifo], nil, 66, "data file '\(fifo)' is a FIFO (named pipe)"),
                (["predict", fifo, "--data", data], nil, 66, "model file '\(fifo)' is a FIFO (named pipe)"),
                (["--data", data, "--log", fifo], nil, 73, "it is a FIFO (named pipe), not a regular file"),
                (["--data", data, "--resume", fifo], nil, 66, "checkpoint '\(fifo)' is a FIFO (named pipe)"),
                (["--data", data, "--same-run-as", fifo], nil, 66, "run log '\(fifo)' is a FIFO (named pipe)"),
                (["compare", fifo], nil, 65, "skipped \(fifo): is a FIFO (named pipe)"),
            ]
            for (arguments, ranks, status, says) in cases {
                let result = try Launcher.run(arguments, ranks: ranks, timeout: 30)
                #expect(!result.timedOut, "\(arguments) hung")
                #expect(result.status == status, "\(arguments): \(result.standardError)")
                #expect(result.standardError.contains(says), "\(arguments): \(result.standardError)")
            }
        }

        @Test("a bad --stall-timeout is refused with the other options, never used by the watchdog first",
              arguments: ["0", "-1"])
        func badStallTimeout(value: String) throws {
            let result = try Launcher.run(["--data", SharedData.path, "--stall-timeout=\(value)"], timeout: 30)
            #expect(result.status == 64, "\(result.standardError)")
            #expect(result.standardError.contains("--stall-timeout must be a positive number"), "\(result.standardError)")
            #expect(!result.standardError.contains("stalled"), "\(result.standardError)")
        }

        @Test("a log write that fails part-way (file size limit) is truncated to whole lines; the real errno is named")
        func shortWriteKeepsWholeLines() throws {
            let (folder, data, _) = try Self.folderWithDataAndModel()
            let log = folder.appendingPathComponent("run.jsonl").path
            // RLIMIT_FSIZE ends writes past 3,000 bytes with EFBIG (SIGXFSZ ignored), as a full disk ends them with
            // ENOSPC: the header (about 1,900 bytes) fits, an eval record crosses the limit part-way. Set in the rank
            // only (under mpirun): MPI's own daemon writes larger shared-memory files.
            let limited = """
                import os, resource, signal, sys
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))
                os.execv(sys.argv[1], sys.argv[1:])
                """
            let result = try Launcher.runCommand(
                ["mpirun", "-np", "1"] + Launcher.mpirunOptions(ranks: 1)
                    + ["python3", "-c", limited, Launcher.binary, "--data", data, "--epochs", "2", "--quiet", "--log", log])
            #expect(result.status == 73, "\(result.standardError)")
            #expect(result.standardError.contains("File too large"), "\(result.standardError)")
            #expect(result.standardError.contains("the partial record was removed"), "\(result.standardError)")
            let text = String(decoding: Self.contents(log) ?? Data(), as: UTF8.self)
            #expect(text.hasSuffix("\n"))
            #expect(try RunLogReader.records(at: log).count >= 2)
        }

        @Test("SIGTERM during frequent checkpoints leaves no temporary file; one left by a killed run is removed")
        func noTemporaryFilesLeft() throws {
            let (folder, data, _) = try Self.folderWithDataAndModel()
            let checkpoint = folder.appendingPathComponent("state.ckpt").path
            let stale = checkpoint + ".tmp-999999"
            _ = FileManager.default.createFile(atPath: stale, contents: Data("half a checkpoint".utf8))
            for attempt in 0..<6 {
                try? FileManager.default.removeItem(atPath: checkpoint)
                let job = try Launcher.start(
                    ["--data", data, "--model", "mlp", "--hidden", "64,64", "--preset", "sgd", "--epochs", "1000",
                     "--quiet", "--checkpoint", checkpoint, "--checkpoint-every", "1"])
                while !FileManager.default.fileExists(atPath: checkpoint) && job.isRunning { usleep(10_000) }
                usleep(UInt32(50_000 + 37_000 * attempt))
                job.signal(SIGTERM)
                let result = job.wait(timeout: 30)
                #expect(result.status == 143, "attempt \(attempt): \(result.standardError)")
                let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp-") }
                #expect(left.isEmpty, "attempt \(attempt) left \(left)")
            }
        }
    }
}
