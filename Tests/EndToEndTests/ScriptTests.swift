import Foundation
import Kernels
import TestSupport
import Testing

extension EndToEnd {
    /// The user-facing scripts: a short sweep through compare and plots, reruns, Slurm dry runs, and --help.
    @Suite("Scripts")
    struct ScriptTests {
        static let repository = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

        /// Runs a script with bash, the tested binary first on the PATH and the shared data named.
        private func script(_ arguments: [String], environment: [String: String] = [:]) throws -> Launcher.Result {
            let binaryFolder = URL(fileURLWithPath: Launcher.binary).deletingLastPathComponent().path
            var settings = environment
            settings["PATH"] = binaryFolder + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            settings["AIRFOIL_DP_DATA"] = SharedData.path
            return try Launcher.runCommand(["bash"] + arguments, environment: settings, timeout: 300,
                                           directory: Self.repository.path)
        }

        @Test("a short sweep writes its logs and manifest, compares them, and a rerun skips the complete runs")
        func shortSweep() throws {
            let folder = try SharedData.temporaryDirectory().appendingPathComponent("sweep").path
            let arguments = ["scripts/sweep.sh", "--batches", "2 100", "--ranks", "1 2 4", "--epochs", "1", "--out", folder]
            let first = try script(arguments)
            try #require(first.status == 0, "\(first.standardError)")
            #expect(first.standardError.contains("[1/5]") && first.standardError.contains("left"))
            #expect(first.standardError.contains("skipping global batch 2 at 4 ranks"))
            let manifest = try String(contentsOfFile: folder + "/manifest.tsv", encoding: .utf8).split(separator: "\n")
            #expect(manifest.count == 6)
            #expect(manifest.dropFirst().allSatisfy { $0.contains("\tok\t0\t") })
            let table = first.standardOutput.split(separator: "\n")
            #expect(table.count == 7, "header, five runs, footnote: \(first.standardOutput)")
            #expect(table.filter { $0.contains("strong") }.count == 5)
            if Self.canPlot {
                for name in ["loss_vs_epoch", "loss_vs_time", "time_to_target", "scaling"] {
                    for ext in ["png", "svg"] {
                        #expect(FileManager.default.fileExists(atPath: "\(folder)/plots/\(name).\(ext)"))
                    }
                }
                #expect(!first.standardError.lowercased().contains("warning"), "\(first.standardError)")
            }
            let again = try script(arguments)
            #expect(again.status == 0)
            #expect(again.standardError.components(separatedBy: "complete log of the same run found, skipped").count - 1 == 5)
            let other = try script(arguments + ["--", "--optimizer", "adam"])
            #expect(other.status == 65, "a complete log of another configuration is refused, not skipped")
            #expect(other.standardError.contains("optimizer.kind is 'sgd' in the log, 'adam' here"), "\(other.standardError)")
            #expect(!other.standardError.contains("[1/5]"), "nothing ran")
        }

        @Test("a learning-rate sweep whose largest rate diverges exits 0, keeps the diverged runs as results and does not rerun them")
        func divergedRunsAreResults() throws {
            let folder = try SharedData.temporaryDirectory().appendingPathComponent("sweep").path
            let arguments = ["scripts/sweep.sh", "--batches", "100", "--ranks", "1 2", "--lrs", "0.4,8", "--epochs", "1",
                             "--out", folder]
            let first = try script(arguments)
            #expect(first.status == 0, "\(first.standardError)")
            let manifest = try String(contentsOfFile: folder + "/manifest.tsv", encoding: .utf8).split(separator: "\n")
            #expect(manifest.filter { $0.contains("-lr8.jsonl") }.allSatisfy { $0.contains("\tdiverged\t3\t") })
            #expect(manifest.filter { $0.contains("-lr0.4.jsonl") }.allSatisfy { $0.contains("\tok\t0\t") })
            #expect(first.standardError.contains("2 run(s) diverged: kept as results"), "\(first.standardError)")
            let table = first.standardOutput.split(separator: "\n")
            #expect(table.filter { $0.contains(" diverged ") }.count == 2 && table.filter { $0.contains(" finished ") }.count == 2,
                    "\(first.standardOutput)")
            #expect(!first.standardError.contains("skipped"), "no log is skipped: \(first.standardError)")
            if Self.canPlot {
                #expect(FileManager.default.fileExists(atPath: "\(folder)/plots/loss_vs_epoch.png"))
            }
            let ranges = try Launcher.run(["compare", folder, "--lr-range", "--format", "csv"])
            let lines = ranges.standardOutput.split(separator: "\n")
            #expect(lines.count == 3 && lines.dropFirst().allSatisfy { $0.contains(",2,1,0.4,8,") }, "\(ranges.standardOutput)")
            let again = try script(arguments)
            #expect(again.status == 0)
            #expect(again.standardError.components(separatedBy: "complete log of the same run found, skipped").count - 1 == 4)
        }

        @Test("--repeats runs every point again with the next seed, in logs of their own")
        func repeats() throws {
            let listed = try script(["scripts/sweep.sh", "--batches", "100", "--ranks", "1", "--repeats", "2",
                                     "--dry-run", "--out", "unused"])
            #expect(listed.status == 0, "\(listed.standardError)")
            let lines = listed.standardOutput.split(separator: "\n")
            #expect(lines.count == 2 && lines[0].contains("--seed 0 --log unused/B100-P1-r1.jsonl ")
                && lines[1].contains("--seed 1 --log unused/B100-P1-r2.jsonl "), "\(listed.standardOutput)")
            // Each run checkpoints beside its log, and continues from there when the sweep is rerun.
            #expect(lines[0].hasSuffix("--checkpoint unused/B100-P1-r1.ckpt --checkpoint-every 10000 --resume auto"))
            let unchecked = try script(["scripts/sweep.sh", "--batches", "100", "--ranks", "1", "--checkpoint-every", "0",
                                        "--dry-run", "--out", "unused"])
            #expect(!unchecked.standardOutput.contains("--checkpoint"), "\(unchecked.standardOutput)")
            let badInterval = try script(["scripts/sweep.sh", "--checkpoint-every", "08", "--dry-run"])
            #expect(badInterval.status == 64 && badInterval.standardError.contains("--checkpoint-every '08'"))
            let refused = try script(["scripts/sweep.sh", "--repeats", "0", "--dry-run"])
            #expect(refused.status == 64)
        }

        static var canPlot: Bool {
            (try? Launcher.runCommand(["/usr/bin/python3", "-c", "import matplotlib"], timeout: 60))?.status == 0
        }

        @Test("a folder of one rank count gets its plots without a scaling figure, an empty panel or a warning",
              .enabled(if: canPlot, "needs Debian's python3-matplotlib"))
        func plotsOfOneRankCount() throws {
            let folder = try SharedData.temporaryDirectory().appendingPathComponent("sweep").path
            let result = try script(["scripts/sweep.sh", "--batches", "10 100", "--ranks", "1", "--epochs", "1",
                                     "--out", folder])
            #expect(result.status == 0, "\(result.standardError)")
            for name in ["loss_vs_epoch", "loss_vs_time", "time_to_target"] {
                #expect(FileManager.default.fileExists(atPath: "\(folder)/plots/\(name).png"))
            }
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/plots/scaling.png"))
            #expect(result.standardError.contains("no scaling plot: no runs that differ only in rank count"))
            #expect(!result.standardError.lowercased().contains("warning"), "\(result.standardError)")
        }

        @Test("sweeps started in the same second get folders of their own")
        func defaultFolders() throws {
            let folder = try SharedData.temporaryDirectory()
            let sweep = Self.repository.appendingPathComponent("scripts/sweep.sh").path
            let command = "\(sweep) --batches 100 --ranks 1 --epochs 1 >/dev/null 2>&1 & "
                + "\(sweep) --batches 100 --ranks 1 --epochs 1 >/dev/null 2>&1; wait"
            var settings = ["AIRFOIL_DP_DATA": SharedData.path]
            settings["PATH"] = URL(fileURLWithPath: Launcher.binary).deletingLastPathComponent().path + ":"
                + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            let result = try Launcher.runCommand(["bash", "-c", command], environment: settings, timeout: 120,
                                                 directory: folder.path)
            #expect(result.status == 0)
            let folders = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("runs").path)
            #expect(folders.count == 2, "\(folders)")
        }

        /// Starts `scripts/sweep.sh arguments` in the background with the built binary first on the PATH; the launcher
        /// starts it as the leader of its own process group, as a terminal starts a job.
        private func startSweep(_ arguments: [String]) throws -> Launcher.Job {
            var settings = ["AIRFOIL_DP_DATA": SharedData.path]
            settings["PATH"] = URL(fileURLWithPath: Launcher.binary).deletingLastPathComponent().path + ":"
                + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            return try Launcher.startCommand(["bash", "scripts/sweep.sh"] + arguments, environment: settings,
                                             directory: Self.repository.path)
        }

        @Test("SIGUSR1 to the sweep reaches its run, which stops at a step boundary: recorded as preempted, the sweep exits 75")
        func preemptedSweep() throws {
            let folder = try SharedData.temporaryDirectory().appendingPathComponent("sweep").path
            let job = try startSweep(["--batches", "10", "--ranks", "2", "--epochs", "200000", "--out", folder,
                                      "--", "--eval-every", "150000"])
            let log = folder + "/B10-P2.jsonl"
            job.wait(for: log, toHold: #""type":"eval""#)
            usleep(300_000)
            try #require(job.isRunning, "the sweep ended before its run could be signalled")
            job.signal(SIGUSR1)
            let result = job.wait(timeout: 60)
            #expect(result.status == 75, "\(result.standardError)")
            #expect(result.standardError.contains("preempted during B=10 P=2"), "\(result.standardError)")
            let manifest = try String(contentsOfFile: folder + "/manifest.tsv", encoding: .utf8).split(separator: "\n")
            #expect(manifest.last?.split(separator: "\t")[5] == "preempted", "\(manifest)")
            #expect(manifest.first?.hasSuffix("\tcheckpoint_every") == true && manifest.last?.hasSuffix("\t10000") == true)
            let end = try RunLogReader.records(at: log).last
            #expect(end?["reason"] as? String == "preempted")
            // The run's checkpoint holds the step it stopped at: a rerun continues from there.
            let saved = try String(contentsOfFile: folder + "/B10-P2.ckpt", encoding: .utf8)
            #expect(saved.contains("\"step\":\(end?["step"] as? Int ?? -1),"), "the checkpoint is at the stop")
        }

        @Test("Ctrl-C to the process group or SIGTERM to the script stops the sweep within seconds; the run is recorded as interrupted and a rerun goes on from it",
              arguments: [(SIGINT, true, Int32(130)), (SIGTERM, false, Int32(143))])
        func interruptedSweep(signal: Int32, toGroup: Bool, exitCode: Int32) throws {
            let folder = try SharedData.temporaryDirectory().appendingPathComponent("sweep").path
            // The second run must still be going 3 s after it starts (the sweep passes SIGTERM on after 2 s): 200,000
            // epochs, evaluated every 100 (40,000 took 3.0 s at 2 ranks on a Zen 5 and once ended before the
            // signal; the rerun after SIGINT trains this run to the end, about 15 s there).
            let sweep = ["--batches", "10", "--ranks", "1 2", "--epochs", "200000", "--out", folder,
                         "--", "--eval-every", "150000"]
            let arguments = ["scripts/sweep.sh"] + sweep
            let job = try startSweep(sweep)
            let second = folder + "/B10-P2.jsonl"
            // Until the second run logs its header: its ranks are then training and log an interruption (the log
            // file exists from before the data is read, and a loaded machine took over a second from there).
            job.wait(for: second, toHold: #""type":"header""#)
            usleep(500_000)
            try #require(job.isRunning, "the sweep ended before its second run could be interrupted")
            let sent = Date()
            if toGroup { job.signalGroup(signal) } else { job.signal(signal) }
            let result = job.wait(timeout: 60)
            #expect(Date().timeIntervalSince(sent) < 10, "the sweep took \(Date().timeIntervalSince(sent)) s to stop")
            #expect(result.status == exitCode, "\(result.standardError)")
            #expect(result.standardError.contains("interrupted during B=10 P=2"), "\(result.standardError)")
            let manifest = try String(contentsOfFile: folder + "/manifest.tsv", encoding: .utf8).split(separator: "\n")
            #expect(manifest.count == 3, "header, the finished run, the interrupted one: \(manifest)")
            #expect(manifest.last?.split(separator: "\t")[5] == "interrupted", "\(manifest)")
            let last = try RunLogReader.records(at: second).last
            #expect(last?["reason"] as? String == "interrupted",
                    "the ranks stopped on their own and logged it; the log ends with \(String(describing: last))")
            if signal == SIGINT {
                let again = try script(arguments)
                #expect(again.status == 0, "\(again.standardError)")
                #expect(again.standardError.contains("B=10 P=1: complete log of the same run found, skipped"))
                #expect(again.standardError.contains("[2/2] B=10 P=2 lr"), "the interrupted run goes on")
                let records = try RunLogReader.records(at: second)
                #expect(records.filter { $0["type"] as? String == "header" }.count == 1)
                #expect(records.contains { $0["type"] as? String == "resume" }, "it continued from its checkpoint")
                #expect(!FileManager.default.fileExists(atPath: folder + "/B10-P2.ckpt"), "removed once complete")
            }
        }

        @Test("weak scaling grows the global batch with the ranks and keeps each series' learning rate")
        func weakSweep() throws {
            let result = try script(["scripts/sweep.sh", "--weak", "--batches", "10 25", "--ranks", "1 2 4", "--dry-run"])
            #expect(result.status == 0)
            // Per-rank 10 keeps minibatch10's 0.05; per-rank 25 has no preset, so 0.05 too, never 100's 0.4 at 4 ranks.
            for (batch, ranks) in [(10, 1), (20, 2), (40, 4), (25, 1), (50, 2), (100, 4)] {
                #expect(result.standardOutput.contains("-np \(ranks) --global-batch \(batch) --lr 0.05 "),
                        "\(result.standardOutput)")
            }
            #expect(result.standardError.contains("keeps one learning rate"))
        }

        @Test("--lrs runs every batch at each rate into logs named by rate; bad or doubled rates are refused")
        func learningRateSweep() throws {
            let folder = try SharedData.temporaryDirectory().appendingPathComponent("sweep").path
            let result = try script(["scripts/sweep.sh", "--batches", "10 100", "--ranks", "1", "--lrs", "0.05,0.4",
                                     "--epochs", "2", "--out", folder])
            #expect(result.status == 0, "\(result.standardError)")
            for name in ["B10-P1-lr0.05", "B10-P1-lr0.4", "B100-P1-lr0.05", "B100-P1-lr0.4"] {
                let records = try RunLogReader.records(at: "\(folder)/\(name).jsonl")
                let rate = Double(name.split(separator: "-").last!.dropFirst(2))!
                #expect(((records.first?["config"] as? [String: Any])?["optimizer"] as? [String: Any])?["learning_rate"]
                    as? Double == rate, "\(name)")
                #expect(records.last?["type"] as? String == "summary", "\(name)")
            }
            let manifest = try String(contentsOfFile: folder + "/manifest.tsv", encoding: .utf8).split(separator: "\n")
            #expect(manifest.count == 5, "header and four runs: \(manifest)")
            #expect(FileManager.default.fileExists(atPath: "\(folder)/plots/time_to_target.png"))
            #expect(FileManager.default.fileExists(atPath: "\(folder)/plots/steps_to_target.png"))
            let plan = try Launcher.run(["compare", folder, "--plan", "--format", "json"])
            let rows = try JSONSerialization.jsonObject(with: Data(plan.standardOutput.utf8)) as? [[String: Any]]
            #expect(plan.status == 0 && rows?.count == 1, "\(plan.standardOutput) \(plan.standardError)")
            // A swept batch, or a power of two between the swept ones, and the table says which.
            let batch = rows?.first?["batch"] as? Int ?? 0
            #expect([10, 16, 32, 64, 100].contains(batch), "\(batch)")
            #expect(rows?.first?["swept"] as? String == ([10, 100].contains(batch) ? "yes" : "no"))
            #expect(rows?.first?["predicted_seconds"] is Double)
            let both = try Launcher.run(["compare", folder, "--plan", "--fit"])
            #expect(both.status == 64 && both.standardError.contains("pass one"), "\(both.standardError)")
            for (arguments, message) in [
                (["--lr", "0.1", "--lrs", "0.2"], "give --lr or --lrs, not both"),
                (["--lrs", "0.1,x"], "learning rate 'x' is not a positive number"),
                (["--lrs", "0"], "learning rate '0' is not a positive number"),
            ] {
                let refused = try script(["scripts/sweep.sh", "--batches", "10", "--ranks", "1", "--dry-run"] + arguments)
                #expect(refused.status == 64 && refused.standardError.contains(message), "\(refused.standardError)")
            }
        }

        @Test("a passed-through --rows, or synthetic data's rows=, sets the rows the batches must fit")
        func sweepRows() throws {
            let result = try script(["scripts/sweep.sh", "--batches", "100 1000", "--ranks", "1", "--dry-run", "--",
                                     "--rows", "600"])
            #expect(result.status == 0)
            #expect(result.standardError.contains("skipping global batch 1000 at 1 ranks (more than 600 rows)"))
            #expect(result.standardOutput.contains("--global-batch 100 "))
            // Synthetic data trains on every generated row (100000 unless rows= says), less --val-rows.
            for (data, skipped) in [("synthetic:rows=20000,features=16", []), ("synthetic:features=4", []),
                                    ("synthetic:seed=2,rows=3000", [4096])] {
                let synthetic = try script(["scripts/sweep.sh", "--batches", "1000 2048 4096", "--ranks", "1",
                                            "--dry-run", "--", "--data", data, "--val-rows", "952"])
                let notes = synthetic.standardError.split(separator: "\n").filter { $0.contains("skipping") }
                #expect(synthetic.status == 0 && notes.count == skipped.count, "\(data): \(notes)")
                #expect(skipped.allSatisfy { synthetic.standardError.contains("batch \($0) at 1 ranks (more than 2048 rows)") })
            }
        }

        @Test("Slurm scripts: valid bash; an array task launches its batch through the launcher srun offers, with yielding ranks")
        func slurm() throws {
            for name in ["train.sbatch", "sweep-array.sbatch"] {
                #expect(try script(["-n", "scripts/slurm/\(name)"]).status == 0)
            }
            // A stand-in srun that lists the given MPI plugins, as `srun --mpi=list` does.
            let folder = try SharedData.temporaryDirectory()
            let settings = "env OMPI_MCA_mpi_yield_when_idle=1" + (getuid() == 0
                ? " OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" : "")
            let task = " --log runs/sweep-77/B100-P8.jsonl --checkpoint runs/sweep-77/B100-P8.ckpt --checkpoint-every 10000"
                + " --resume auto --global-batch 100 --lr 0.4 --epochs 2 --optimizer adam"
            for (plugins, launcher) in [("none pmi2 pmix", "srun --mpi=pmix --kill-on-bad-exit=1"),
                                        ("none pmi2", "srun --mpi=pmi2 --kill-on-bad-exit=1"), ("none", "mpirun")] {
                let fake = folder.appendingPathComponent("srun").path
                try "#!/bin/sh\necho 'MPI plugin types are...'\nprintf '\\t%s\\n' \(plugins)\n"
                    .write(toFile: fake, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake)
                let result = try script(["-c", "PATH=\(folder.path):$PATH exec bash scripts/slurm/sweep-array.sbatch --optimizer adam"],
                                        environment: ["DRY_RUN": "1", "SLURM_ARRAY_TASK_ID": "2", "SLURM_NTASKS": "8",
                                                      "SLURM_ARRAY_JOB_ID": "77"])
                #expect(result.status == 0, "\(result.standardError)")
                let printed = result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(printed.hasPrefix("\(settings) \(launcher) /") && printed.hasSuffix("/airfoil-dp\(task)"),
                        "plugins \(plugins): \(printed)")
            }
        }

        /// train.sbatch's time-limit path without a cluster: a stand-in srun that records what it is sent and, on
        /// SIGUSR1, exits 75 as the ranks do; a stand-in scontrol that records its arguments.
        @Test("train.sbatch passes SIGUSR1 to its launcher and on exit 75 requeues the job (held, or not past the limit); a requeued job runs at its allocation's task count",
              arguments: [
                  ("signal", [:], "requeue 42"),
                  ("signal", ["AIRFOIL_DP_REQUEUE": "hold"], "requeuehold 42"),
                  ("signal", ["SLURM_RESTART_COUNT": "5"], ""),
                  ("signal", ["AIRFOIL_DP_REQUEUE": "no"], ""),
                  ("finish", ["SLURM_RESTART_COUNT": "1", "SLURM_TASKS_PER_NODE": "1"], ""),
              ] as [(String, [String: String], String)])
        func requeueWithoutCluster(run: String, settings: [String: String], requeue: String) throws {
            let folder = try SharedData.temporaryDirectory()
            let record = folder.appendingPathComponent("record").path
            let srun = """
                #!/bin/bash
                [[ "$1" == --mpi=list ]] && { echo 'MPI plugin types are...'; printf '\tpmix\n'; exit 0; }
                echo "tasks $SLURM_NTASKS" >> \(record)
                [[ "$FAKE_RUN" == finish ]] && exit 0
                trap 'echo usr1 >> \(record); exit 75' USR1
                echo started >> \(record)
                for _ in $(seq 300); do sleep 0.1; done
                """
            let scontrol = "#!/bin/sh\necho \"scontrol $*\" >> \(record)\n"
            for (name, text) in [("srun", srun), ("scontrol", scontrol)] {
                let path = folder.appendingPathComponent(name).path
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
            }
            // Signal the batch shell once the stand-in launcher runs, as Slurm signals it.
            let driver = """
                PATH=\(folder.path):$PATH bash scripts/slurm/train.sbatch --epochs 1 &
                job=$!
                if [[ "$FAKE_RUN" == signal ]]; then
                    until grep -q started \(record) 2>/dev/null; do sleep 0.05; done
                    kill -USR1 $job
                fi
                wait $job
                """
            var environment = ["SLURM_JOB_ID": "42", "SLURM_NTASKS": "2", "FAKE_RUN": run,
                               "AIRFOIL_DP_LOG": folder.appendingPathComponent("run.jsonl").path]
            environment.merge(settings) { $1 }
            let result = try script(["-c", driver], environment: environment)
            let lines = ((try? String(contentsOfFile: record, encoding: .utf8)) ?? "").split(separator: "\n")
            let calls = lines.filter { $0.hasPrefix("scontrol ") && !$0.hasPrefix("scontrol show") }
            if run == "signal" {
                #expect(lines.filter { $0 == "usr1" }.count == 1, "\(lines)")
                #expect(result.status == (requeue.isEmpty ? 75 : 0), "\(settings): \(result.standardError)")
            } else {
                #expect(result.status == 0 && lines.contains("tasks 1"), "\(lines) \(result.standardError)")
            }
            #expect(calls == (requeue.isEmpty ? [] : ["scontrol \(requeue)"]), "\(settings): \(calls)")
        }

        @Test("a requeued Slurm job's rank count comes from its allocation's task layout, and a layout it cannot read is refused")
        func slurmTaskLayout() throws {
            for (layout, tasks) in [("1", "1"), ("2(x3),1", "7"), ("4,2(x2)", "8")] {
                let result = try script(["-c", "source scripts/lib/common.sh && airfoil_dp_slurm_allocated_tasks '\(layout)'"])
                #expect(result.status == 0 && result.standardOutput == "\(tasks)\n", "\(layout): \(result.standardOutput)")
            }
            let refused = try script(["-c", "source scripts/lib/common.sh && airfoil_dp_slurm_allocated_tasks '2(x)'"])
            #expect(refused.status == 65 && refused.standardError.contains("cannot read the task layout"))
        }

        @Test("bench-reproducible.sh: a positive ratio per kernel set and configuration")
        func reproducibleRatios() throws {
            let result = try script(["scripts/bench-reproducible.sh", "--runs", "1", "--steps", "20"])
            try #require(result.status == 0, "\(result.standardError)")
            let rows = result.standardOutput.split(separator: "\n").filter { $0.contains("linear sgd") || $0.contains("mlp adam") }
            #expect(rows.count == 5 * KernelSet.supported.count, "\(result.standardOutput)")
            for name in KernelSet.supported.map(\.name.rawValue) {
                #expect(rows.filter { $0.hasPrefix(name + " ") }.count == 5, "\(name): \(result.standardOutput)")
            }
            #expect(rows.allSatisfy { Double($0.split(separator: " ").last!).map { $0 > 0 } == true })
            let refused = try script(["scripts/bench-reproducible.sh", "--runs", "0"])
            #expect(refused.status == 64)
        }

        @Test("experiment-adaptive.sh: two tables, LAMB beside Adam, and ends with its two ratio lines")
        func adaptiveExperiment() throws {
            let folder = try SharedData.temporaryDirectory()
            let result = try script(["scripts/experiment-adaptive.sh", "--out", folder.path])
            try #require(result.status == 0, "\(result.standardError)")
            let lines = result.standardOutput.split(separator: "\n").map(String.init)
            #expect(lines.filter { $0.hasPrefix("| (c) noise | noise-r") }.count == 2, "\(result.standardOutput)")
            #expect(lines.contains { $0.hasPrefix("  lamb: 0.") } && lines.contains { $0.hasPrefix("  adam: 0.") })
            let ratios = lines.suffix(2).map { $0.split(separator: " ") }
            #expect(ratios.map { String($0.first ?? "") } == ["steps_ratio:", "examples_ratio:"], "\(lines.suffix(2))")
            #expect(ratios.allSatisfy { $0.count == 2 && Double($0[1]).map { $0 > 0 } == true }, "\(lines.suffix(2))")
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("plots/batch_vs_step.png").path))
            #expect(try script(["scripts/experiment-adaptive.sh", "--target", "x"]).status == 64)
        }

        @Test("every script answers --help with its usage and no line of its code", arguments: [
            "scripts/setup.sh", "scripts/run.sh", "scripts/test.sh", "scripts/sweep.sh", "scripts/plot-runs",
            "scripts/bench-gemm-vs-openblas.sh", "scripts/bench-allocations.sh", "scripts/bench-presets.sh",
            "scripts/bench-vs-numpy.sh", "scripts/slurm/train.sbatch", "scripts/slurm/sweep-array.sbatch",
            "scripts/test-multihost.sh", "scripts/netns-agent.sh", "scripts/bundle.sh", ".ci/run", "scripts/fuzz.sh",
            "scripts/chaos.sh", "scripts/test-slurm.sh", "scripts/check-kernel-symbols.sh", "scripts/bench-preempt.sh",
            "scripts/bench-load.sh", "scripts/bench-reproducible.sh", "scripts/experiment-adaptive.sh",
        ])
        func help(path: String) throws {
            let result = try script([path, "--help"])
            #expect(result.status == 0)
            #expect(result.standardOutput.lowercased().contains("usage"), "\(path): \(result.standardOutput)")
            #expect(result.standardError.isEmpty, "\(path): \(result.standardError)")
            for code in ["set -euo", "#SBATCH", "usage()", "#!/", ";;", "; then", "$(dirname", "source \""] {
                #expect(!result.standardOutput.contains(code), "\(path) prints its code: \(code)")
            }
        }

        @Test("every script is committed with its run bit (the sourced library aside)")
        func runBits() throws {
            let listed = try Launcher.runCommand(
                ["git", "ls-files", "-s", "scripts", ".ci"], directory: Self.repository.path)
            try #require(listed.status == 0, "\(listed.standardError)")
            // "<mode> <object> <stage>\t<path>" per file.
            let entries = listed.standardOutput.split(separator: "\n").map { $0.split(whereSeparator: \.isWhitespace) }
            let scripts = entries.compactMap { fields -> (mode: String, path: String)? in
                guard fields.count == 4, !fields[3].hasPrefix("scripts/lib/") else { return nil }
                return (String(fields[0]), String(fields[3]))
            }
            #expect(scripts.count >= 19, "\(scripts.map(\.path))")
            for script in scripts { #expect(script.mode == "100755", "\(script.path) lacks its run bit") }
        }

        @Test("compare skips damaged logs on stderr, keeps stdout for the table, and fails only with no valid log")
        func compareOutputContract() throws {
            let folder = try SharedData.temporaryDirectory()
            let good = folder.appendingPathComponent("good.jsonl").path
            let run = try Launcher.run(["--data", SharedData.path, "--quiet", "--log", good])
            try #require(run.status == 0)
            try "not a log\n".write(toFile: folder.appendingPathComponent("bad.jsonl").path, atomically: true, encoding: .utf8)
            let truncated = String(decoding: FileManager.default.contents(atPath: good)!.prefix(300), as: UTF8.self)
            try truncated.write(toFile: folder.appendingPathComponent("cut.jsonl").path, atomically: true, encoding: .utf8)
            let table = try Launcher.run(["compare", folder.path, "--format", "json"])
            #expect(table.status == 0)
            let rows = try JSONSerialization.jsonObject(with: Data(table.standardOutput.utf8)) as? [[String: Any]]
            #expect(rows?.count == 1)
            #expect(table.standardError.contains("bad.jsonl") && table.standardError.contains("cut.jsonl"))
            let none = try Launcher.run(["compare", folder.appendingPathComponent("bad.jsonl").path])
            #expect(none.status == 65)
            #expect(none.standardOutput.isEmpty)
        }
    }

    /// The Swift-free bundle: built, unpacked, and run with an empty environment.
    @Suite("Cluster bundle")
    struct BundleTests {
        @Test("the bundle's binary links no Swift library and trains alone and under mpirun with env -i")
        func swiftFreeBundle() throws {
            let folder = try SharedData.temporaryDirectory()
            let built = try Launcher.runCommand(
                ["bash", "scripts/bundle.sh", "--out", folder.path], timeout: 600,
                directory: ScriptTests.repository.path)
            try #require(built.status == 0, "\(built.standardError)")
            let archive = built.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(archive.hasSuffix("-linux-\(Self.machine).tar.gz"), "\(archive)")
            let unpacked = folder.appendingPathComponent("unpacked").path
            try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
            let untar = try Launcher.runCommand(["tar", "-C", unpacked, "-xzf", archive])
            try #require(untar.status == 0, "\(untar.standardError)")
            let root = try #require(try FileManager.default.contentsOfDirectory(atPath: unpacked).first)
            let binary = "\(unpacked)/\(root)/bin/airfoil-dp"
            for file in ["README.md", "CHANGELOG.md", "docs/guide.md", "docs/scaling-studies.md", "scripts/run.sh", "scripts/sweep.sh", "scripts/plot-runs", "scripts/lib/common.sh",
                         "scripts/slurm/train.sbatch", "scripts/slurm/sweep-array.sbatch", "hostfiles/localhost",
                         "share/man/man1/airfoil-dp.1", "share/bash-completion/completions/airfoil-dp",
                         "share/zsh/site-functions/_airfoil-dp", "share/fish/vendor_completions.d/airfoil-dp.fish"] {
                #expect(FileManager.default.fileExists(atPath: "\(unpacked)/\(root)/\(file)"), "missing \(file)")
            }
            let completion = try Launcher.runCommand(["bash", "-c",
                "source '\(unpacked)/\(root)/share/bash-completion/completions/airfoil-dp' && complete -p airfoil-dp"])
            #expect(completion.status == 0 && completion.standardOutput.contains("airfoil-dp"), "\(completion.standardError)")
            let manual = try String(contentsOfFile: "\(unpacked)/\(root)/share/man/man1/airfoil-dp.1", encoding: .utf8)
            #expect(manual.contains("predict") && manual.contains("--model"), "the manual covers every subcommand")
            let libraries = try Launcher.runCommand(["ldd", binary])
            #expect(libraries.status == 0)
            for swiftLibrary in ["libswiftCore", "libFoundation", "libdispatch", "libcurl"] {
                #expect(!libraries.standardOutput.contains(swiftLibrary), "\(libraries.standardOutput)")
            }
            let empty = ["env", "-i", "PATH=/usr/bin:/bin", "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"]
            let alone = try Launcher.runCommand(empty + [binary, "--data", SharedData.path, "--quiet"])
            #expect(alone.status == 0 && alone.standardOutput.hasPrefix("loss: 0.24"), "\(alone.standardError)")
            let parallel = try Launcher.runCommand(
                empty + ["mpirun", "-np", "2"] + Launcher.mpirunOptions(ranks: 2) + [binary, "--data", SharedData.path, "--quiet"])
            #expect(parallel.status == 0 && parallel.standardOutput.contains("on 2 ranks"), "\(parallel.standardError)")
        }

        static var machine: String {
            var name = utsname()
            uname(&name)
            return withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
    }

    /// The multi-host run across three network namespaces (needs root and `ip netns`; the script says when it skips).
    @Suite("Multi-host over network namespaces")
    struct MultiHostTests {
        static var canCreateNamespaces: Bool {
            getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
                && (FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
                    || FileManager.default.isExecutableFile(atPath: "/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/usr/bin/ip"))
        }

        @Test("gd across three hosts reaches the single-host loss, the header lists three hosts, and --reproducible is bit-identical",
              .enabled(if: canCreateNamespaces, "needs root, ip netns and unshare"))
        func threeHosts() throws {
            let result = try Launcher.runCommand(
                ["bash", "scripts/test-multihost.sh"], environment: ["AIRFOIL_DP_DATA": SharedData.path], timeout: 300,
                directory: ScriptTests.repository.path)
            #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
            #expect(result.standardOutput.contains("PASSED"), "\(result.standardOutput)")
            #expect(result.standardOutput.contains("afdp-h1 [0, 1], afdp-h2 [2, 3], afdp-h3 [4, 5]"))
            #expect(result.standardOutput.contains("across 3 hosts and on one rank: bit-identical"))
        }
    }
}
