import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// The path a cluster's time limit takes: a graceful signal, a checkpoint at a step boundary, exit 75, and the
    /// same command with `--resume auto` continuing where it stopped.
    @Suite("Graceful stops and --resume auto")
    struct GracefulStopTests {
        /// Minibatches of 4 on 2 ranks, long enough to be signalled mid-run, evaluated only at the end.
        static let longRun = ["--data", SharedData.path, "--preset", "sgd", "--global-batch", "4", "--epochs", "6000",
                              "--quiet", "--eval-every", "100000000"]

        /// Returns once the run's log holds its first evaluation (the one before the first step), and a little more:
        /// its ranks are then training.
        private func waitForTraining(_ log: String, _ job: Launcher.Job) {
            job.wait(for: log, toHold: #""type":"eval""#, seconds: 30)
            usleep(300_000)
        }

        private func summaryDigest(_ log: String) throws -> String? {
            try RunLogReader.records(at: log).last { $0["type"] as? String == "summary" }?["params_digest"] as? String
        }

        @Test("SIGUSR1 to mpirun: both ranks stop at one step boundary, checkpoint, log preempted and exit 75; --resume auto then ends bit-identical to an uninterrupted run")
        func preemptedAndResumed() throws {
            let folder = try SharedData.temporaryDirectory()
            let fullLog = folder.appendingPathComponent("full.jsonl").path
            let log = folder.appendingPathComponent("run.jsonl").path
            let checkpoint = folder.appendingPathComponent("run.ckpt").path
            let full = try Launcher.run(Self.longRun + ["--log", fullLog], ranks: 2, timeout: 120)
            try #require(full.status == 0, "\(full.standardError)")
            let command = Self.longRun + ["--log", log, "--checkpoint", checkpoint, "--checkpoint-every", "100000",
                                          "--resume", "auto"]
            let job = try Launcher.start(command, ranks: 2)
            _ = try job.waitForRanks(2)
            waitForTraining(log, job)
            try #require(job.isRunning, "the run ended before the signal")
            let signalled = Date()
            job.signal(SIGUSR1)
            let stopped = job.wait(timeout: 30)
            let seconds = Date().timeIntervalSince(signalled)
            #expect(stopped.status == 75, "status \(stopped.status): \(stopped.standardError)")
            #expect(seconds < 5, "\(seconds) s from the signal to the exit")
            let end = try #require(try RunLogReader.records(at: log).last)
            #expect(end["type"] as? String == "end" && end["reason"] as? String == "preempted"
                    && end["signal"] as? String == "SIGUSR1", "\(end)")
            let step = try #require(end["step"] as? Int)
            #expect(step > 0 && step < 6000 * 375)
            #expect(stopped.standardError.contains("preempted by SIGUSR1 at step \(step)"))
            let saved = FileManager.default.contents(atPath: checkpoint) ?? Data()
            #expect(String(decoding: saved.prefix(21), as: UTF8.self) == "airfoil-dp checkpoint")

            let resumed = try Launcher.run(command, ranks: 2, timeout: 120)
            #expect(resumed.status == 0, "\(resumed.standardError)")
            let records = try RunLogReader.records(at: log)
            let resume = records.first { $0["type"] as? String == "resume" }
            #expect(resume?["step"] as? Int == step, "the resume record continues from the stop: \(String(describing: resume))")
            #expect(try summaryDigest(log) == summaryDigest(fullLog), "the resumed run's parameters are the uninterrupted run's")
        }

        @Test("--reproducible: stopped by SIGUSR1 at 2 ranks, resumed at 1 with --resume auto, bit-identical to an uninterrupted run")
        func reproducibleAtAnotherRankCount() throws {
            let folder = try SharedData.temporaryDirectory()
            let fullLog = folder.appendingPathComponent("full.jsonl").path
            let log = folder.appendingPathComponent("run.jsonl").path
            let checkpoint = folder.appendingPathComponent("run.ckpt").path
            let run = ["--data", SharedData.path, "--preset", "sgd", "--global-batch", "4", "--epochs", "6000",
                       "--quiet", "--eval-every", "100000000", "--reproducible"]
            let full = try Launcher.run(run + ["--log", fullLog], ranks: 1, timeout: 120)
            try #require(full.status == 0, "\(full.standardError)")
            let command = run + ["--log", log, "--checkpoint", checkpoint, "--checkpoint-every", "100000000",
                                 "--resume", "auto"]
            let job = try Launcher.start(command, ranks: 2)
            _ = try job.waitForRanks(2)
            waitForTraining(log, job)
            try #require(job.isRunning, "the run ended before the signal")
            job.signal(SIGUSR1)
            let stopped = job.wait(timeout: 30)
            #expect(stopped.status == 75, "\(stopped.standardError)")
            let resumed = try Launcher.run(command, ranks: 1, timeout: 120)
            #expect(resumed.status == 0, "\(resumed.standardError)")
            let resume = try RunLogReader.records(at: log).first { $0["type"] as? String == "resume" }
            #expect(resume?["ranks"] as? Int == 1 && resume?["checkpoint_ranks"] as? Int == 2)
            #expect(try summaryDigest(log) == summaryDigest(fullLog))
        }

        /// A requeued job given another size, twice: in the default mode a mid-epoch checkpoint resumed at another rank
        /// count skips to the next epoch, so the checkpoints after it count fewer optimizer updates than steps.
        @Test("default mode: stopped at 2 ranks, resumed at 1 and stopped again, the second checkpoint (fewer updates than steps) resumes and finishes")
        func stoppedAgainAfterAnotherRankCount() throws {
            let folder = try SharedData.temporaryDirectory()
            let log = folder.appendingPathComponent("run.jsonl").path
            let checkpoint = folder.appendingPathComponent("run.ckpt").path
            let command = Self.longRun + ["--log", log, "--checkpoint", checkpoint, "--checkpoint-every", "100000000",
                                          "--resume", "auto"]
            for ranks in [2, 1] {
                let job = try Launcher.start(command, ranks: ranks)
                _ = try job.waitForRanks(ranks)
                waitForTraining(log, job)
                try #require(job.isRunning, "the run at \(ranks) ranks ended before the signal")
                job.signal(SIGUSR1)
                let stopped = job.wait(timeout: 30)
                try #require(stopped.status == 75, "at \(ranks) ranks: \(stopped.standardError)")
            }
            let bytes = try #require(FileManager.default.contents(atPath: checkpoint))
            let payload = bytes[(bytes.firstIndex(of: UInt8(ascii: "\n"))! + 1)...]
            let state = try #require((try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])?["state"]
                as? [String: Any])
            let updates = try #require(state["optimizer_updates"] as? Int)
            let step = try #require(state["step"] as? Int)
            #expect(updates < step, "the 1-rank resume skipped no step: \(updates) updates at step \(step)")
            let finished = try Launcher.run(command, ranks: 1, timeout: 120)
            #expect(finished.status == 0, "\(finished.standardError)")
            #expect(try summaryDigest(log) != nil)
        }

        /// SIGTERM goes to the ranks, as Slurm's step daemon sends it at a time limit: mpirun, sent SIGTERM itself,
        /// ends the job on its own (exit 1 however the ranks stop).
        @Test("without --checkpoint a graceful stop still stops at a step boundary and exits 75; --graceful-signal TERM makes SIGTERM one")
        func preemptedWithoutCheckpoint() throws {
            let folder = try SharedData.temporaryDirectory()
            let log = folder.appendingPathComponent("run.jsonl").path
            let job = try Launcher.start(Self.longRun + ["--log", log, "--graceful-signal", "TERM"], ranks: 2)
            let ranks = try job.waitForRanks(2)
            usleep(1_000_000)
            for rank in ranks { kill(rank, SIGTERM) }
            let stopped = job.wait(timeout: 30)
            #expect(stopped.status == 75, "\(stopped.standardError)")
            let end = try RunLogReader.records(at: log).last
            // Each rank was sent the signal; rank 0 names it unless another rank's flag stopped the step first.
            #expect(end?["reason"] as? String == "preempted" && [nil, "SIGTERM"].contains(end?["signal"] as? String))
            #expect(stopped.standardError.contains("so a rerun starts over"))
        }

        @Test("a stop that cannot finish (a rank stopped) ends after --grace-seconds, or at a second signal, as an interrupt",
              arguments: ["grace", "second signal"])
        func stopThatCannotFinish(how: String) throws {
            let folder = try SharedData.temporaryDirectory()
            let log = folder.appendingPathComponent("run.jsonl").path
            let grace = how == "grace" ? "1" : "60"
            let job = try Launcher.start(Self.longRun + ["--log", log, "--grace-seconds", grace], ranks: 2)
            let ranks = try job.waitForRanks(2)
            usleep(1_000_000)
            kill(ranks[1], SIGSTOP)
            defer { kill(ranks[1], SIGKILL) }
            let signalled = Date()
            job.signal(SIGUSR1)
            if how == "second signal" {
                usleep(300_000)
                job.signal(SIGUSR1)
            }
            let ended = job.wait(timeout: 30)
            let seconds = Date().timeIntervalSince(signalled)
            #expect(!ended.timedOut && ended.status != 0 && ended.status != 75, "status \(ended.status)")
            #expect(seconds < (how == "grace" ? 8 : 6), "\(seconds) s")
            let end = try RunLogReader.records(at: log).last
            #expect(end?["reason"] as? String == "interrupted", "\(String(describing: end)); \(ended.standardError)")
            if how == "grace" {
                #expect((end?["message"] as? String)?.contains("did not stop within 1 s") == true)
            }
        }

        @Test("--resume auto: no checkpoint starts fresh (restarting this run's log), a damaged one is refused, and it needs --checkpoint")
        func automaticResume() throws {
            let folder = try SharedData.temporaryDirectory()
            let log = folder.appendingPathComponent("run.jsonl").path
            let checkpoint = folder.appendingPathComponent("run.ckpt").path
            let command = ["--data", SharedData.path, "--preset", "minibatch100", "--epochs", "2", "--quiet",
                           "--log", log, "--checkpoint", checkpoint, "--checkpoint-every", "1000", "--resume", "auto"]
            let first = try Launcher.run(command)
            #expect(first.status == 0, "\(first.standardError)")
            #expect(try RunLogReader.records(at: log).first?["type"] as? String == "header")
            // The log holds this run but no checkpoint exists (a job stopped before its first one): start over.
            let again = try Launcher.run(command)
            #expect(again.status == 0 && again.standardError.contains("starting over"), "\(again.standardError)")
            #expect(try RunLogReader.records(at: log).filter { $0["type"] as? String == "header" }.count == 1)
            // A log of another run is refused, as without auto.
            var other = command
            other[other.firstIndex(of: "2")!] = "3"
            let refused = try Launcher.run(other)
            #expect(refused.status == 73, "\(refused.standardError)")
            // A damaged checkpoint is refused and kept, never replaced by a fresh start.
            let damaged = Data("airfoil-dp checkpoint 4 0000\n{}".utf8)
            FileManager.default.createFile(atPath: checkpoint, contents: damaged)
            let bad = try Launcher.run(command)
            #expect(bad.status == 65, "\(bad.standardError)")
            #expect(FileManager.default.contents(atPath: checkpoint) == damaged)
            let lonely = try Launcher.run(["--data", SharedData.path, "--resume", "auto", "--quiet"])
            #expect(lonely.status == 64 && lonely.standardError.contains("auto"), "\(lonely.standardError)")
        }
    }
}
