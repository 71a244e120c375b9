import Common
import Formats
import Foundation
import MPI
import Optimization
import TestSupport
import Testing
import Training

/// Checkpoints edited with their digest recomputed, as anyone can: every state field is checked against the run.
@Suite("Checkpoint fields validated against the run")
struct CheckpointValidationTests {
    /// A real checkpoint of a one-epoch minibatch10 run (150 steps) with `optimizer`, written at step 148, as a
    /// JSON object.
    static func write(_ optimizer: OptimizerKind, schedule: BatchSchedule? = nil) -> (folder: URL, payload: Data) {
        let folder = try! SharedData.temporaryDirectory()
        let path = folder.appendingPathComponent("run.ckpt").path
        var configuration = configuration(optimizer, epochs: 1, schedule: schedule)
        configuration.checkpointPath = path
        configuration.checkpointEvery = 37
        try! TrainingJob.run(configuration, collective: SingleProcess(), versions: [:], quiet: true)
        let bytes = FileManager.default.contents(atPath: path)!
        let payload = bytes[(bytes.firstIndex(of: UInt8(ascii: "\n"))! + 1)...]
        return (folder, Data(payload))
    }

    static let written = write(.sgd)
    static let writtenByAdam = write(.adam)
    static let scheduled = BatchSchedule.noise
    static let writtenWithSchedule = write(.sgd, schedule: scheduled)

    static func configuration(
        _ optimizer: OptimizerKind, epochs: Int, schedule: BatchSchedule? = nil
    ) -> TrainingConfiguration {
        var configuration = TrainingConfiguration(
            dataPath: SharedData.path, preset: .minibatch10,
            optimizer: optimizer == .sgd ? nil : OptimizerSettings.defaults(for: optimizer), epochs: epochs,
            progress: .never)
        configuration.batchSchedule = schedule
        return configuration
    }

    /// Resumes a two-epoch run from the checkpoint with `edit` applied and its digest recomputed.
    func resume(
        _ optimizer: OptimizerKind = .sgd, schedule: BatchSchedule? = nil, editing edit: (inout [String: Any]) -> Void
    ) throws -> JobFailure? {
        let written = schedule != nil ? Self.writtenWithSchedule : optimizer == .sgd ? Self.written : Self.writtenByAdam
        var payload = try JSONSerialization.jsonObject(with: written.payload) as! [String: Any]
        edit(&payload)
        let json = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        let path = written.folder.appendingPathComponent("edited-\(UUID().uuidString).ckpt").path
        let file = DigestedFile(kind: "checkpoint", version: Checkpoint.formatVersion).encode([UInt8](json))
        #expect(FileManager.default.createFile(atPath: path, contents: Data(file)))
        var configuration = Self.configuration(optimizer, epochs: 2, schedule: schedule)
        configuration.resumePath = path
        do {
            try TrainingJob.run(configuration, collective: SingleProcess(), versions: [:], quiet: true)
            return nil
        } catch let failure as JobFailure {
            return failure
        }
    }

    /// Sets `state.<key>` to the JSON `value`.
    static func setState(_ key: String, _ value: String) -> (inout [String: Any]) -> Void {
        { payload in
            var state = payload["state"] as! [String: Any]
            state[key] = try! JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
            payload["state"] = state
        }
    }

    @Test("the untouched payload, re-encoded with its digest, resumes and finishes")
    func untouchedResumes() throws {
        #expect(try resume { _ in } == nil)
    }

    @Test("an edited field is refused with exit code 65 and one line naming it", arguments: [
        ("step_in_epoch", "1000000", "field 'state.step_in_epoch' is 1000000, outside 0..149"),
        ("epoch", "-1", "field 'state.epoch' is -1, outside 0..1"),
        ("step", "7", "field 'state.step' is 7, outside 148..148"),
        ("optimizer_updates", "1099511627776", "field 'state.optimizer_updates' is 1099511627776, outside 0..148"),
        ("optimizer_updates", "149", "field 'state.optimizer_updates' is 149, outside 0..148"),
        ("optimizer_updates", "-1", "field 'state.optimizer_updates' is -1, outside 0..148"),
        ("examples", "5", "field 'state.examples' is 5, outside 1480..1480"),
        ("next_eval", "0", "field 'state.next_eval' is 0, outside 1481.."),
        ("train_seconds", "-3", "field 'state.train_seconds' is -3.0, outside 0..1000000000.0 seconds"),
        ("train_seconds", "2e10", "field 'state.train_seconds' is 20000000000.0, outside 0..1000000000.0 seconds"),
        ("train_seconds", "1e308", "field 'state.train_seconds' is 1e+308, outside 0..1000000000.0 seconds"),
        ("initial_loss", "-1", "field 'state.initial_loss' is -1.0, not a finite number >= 0"),
        ("parameters", "[0.5]", "field 'state.parameters' has 1 values; the model has 6 parameters"),
        ("optimizer_first", "[0,0,0,0,0,0,0]", "field 'state.optimizer_first' has 7 values"),
        ("optimizer_second", "\"none\"", "field 'state.optimizer_second' has the wrong type"),
        ("last_loss", "null", "field 'state.last_loss' has the wrong type or is null"),
        ("noise_scale", #"{"trace_average":1,"squared_norm_average":1,"weight":2,"#
            + #""trace_square_average":1,"squared_norm_square_average":1,"product_average":1,"weight_squares":1}"#,
         "field 'state.noise_scale' has weight 2.0, outside 0..1"),
        ("noise_scale", #"{"trace_average":-3.8e31,"squared_norm_average":1,"weight":0.5,"#
            + #""trace_square_average":1,"squared_norm_square_average":1,"product_average":1,"weight_squares":0.1}"#,
         "field 'state.noise_scale' has a negative tr(Sigma) average, -3.8e+31"),
        ("noise_scale", #"{"trace_average":1,"squared_norm_average":1,"weight":0.5,"#
            + #""trace_square_average":1,"squared_norm_square_average":1,"product_average":1,"weight_squares":0.6}"#,
         "field 'state.noise_scale' has weight_squares 0.6, outside 0..weight"),
        ("noise_scale", #"{"trace_average":1,"squared_norm_average":1,"weight":0.5,"#
            + #""trace_square_average":-1,"squared_norm_square_average":1,"product_average":1,"weight_squares":0.1}"#,
         "field 'state.noise_scale' has a negative average square"),
        ("noise_scale", #"{"trace_average":1,"squared_norm_average":1,"weight":0.5}"#,
         "field 'state.noise_scale.trace_square_average' is missing"),
        ("noise_scale", "null", "field 'state.noise_scale' is missing, but the run estimates the noise scale"),
    ])
    func editedStateField(field: String, value: String, message: String) throws {
        let failure = try resume(editing: Self.setState(field, value))
        #expect(failure?.exitCode == 65, "\(String(describing: failure))")
        #expect(failure?.message.contains(message) == true, "\(failure?.message ?? "accepted")")
        #expect(failure?.message.contains("\n") == false)
    }

    @Test("a batch schedule's state is required, in range and consistent with the examples, and only with a schedule",
          arguments: [
        ("batch_schedule", "null", "field 'state.batch_schedule' is missing, but the run's batch changes"),
        ("batch_schedule", #"{"global_batch":0,"slot_in_epoch":10,"rate_clock":1}"#,
         "field 'state.batch_schedule.global_batch' is 0, outside 1..1500"),
        ("batch_schedule", #"{"global_batch":10,"slot_in_epoch":1500,"rate_clock":1}"#,
         "field 'state.batch_schedule.slot_in_epoch' is 1500, outside 0..1499"),
        ("batch_schedule", #"{"global_batch":10,"slot_in_epoch":1499,"rate_clock":1}"#, "field 'state.examples' is "),
        ("batch_schedule", #"{"global_batch":10,"slot_in_epoch":1,"rate_clock":1}"#, "field 'state.step_in_epoch' is "),
    ])
    func editedScheduleState(field: String, value: String, message: String) throws {
        #expect(try resume(schedule: Self.scheduled) { _ in } == nil)
        let failure = try resume(schedule: Self.scheduled, editing: Self.setState(field, value))
        #expect(failure?.exitCode == 65, "\(String(describing: failure))")
        #expect(failure?.message.contains(message) == true, "\(failure?.message ?? "accepted")")
    }

    @Test("a clock past its bound and a schedule's state in a run without one are refused")
    func scheduleStateOutOfPlace() throws {
        let clock = try resume(schedule: Self.scheduled) { payload in
            var state = payload["state"] as! [String: Any]
            var schedule = state["batch_schedule"] as! [String: Any]
            schedule["rate_clock"] = 1e300
            state["batch_schedule"] = schedule
            payload["state"] = state
        }
        #expect(clock?.message.contains("field 'state.batch_schedule.rate_clock' is 1e+300") == true,
                "\(clock?.message ?? "accepted")")
        let stray = try resume(editing: Self.setState(
            "batch_schedule", #"{"global_batch":10,"slot_in_epoch":1480,"rate_clock":1}"#))
        #expect(stray?.message.contains("is present, but the run has no batch schedule") == true,
                "\(stray?.message ?? "accepted")")
    }

    @Test("fewer optimizer updates than steps, as a checkpoint written after a resume that skipped part of an epoch has, resumes")
    func fewerUpdatesThanSteps() throws {
        #expect(try resume(.adam, editing: Self.setState("optimizer_updates", "111")) == nil)
    }

    @Test("a negative second moment of Adam is refused, naming the value, not trained into a false divergence")
    func negativeSecondMoment() throws {
        #expect(try resume(.adam) { _ in } == nil)
        let failure = try resume(.adam) { payload in
            var state = payload["state"] as! [String: Any]
            var second = state["optimizer_second"] as! [Double]
            second[3] = -0.25
            state["optimizer_second"] = second
            payload["state"] = state
        }
        #expect(failure?.exitCode == 65)
        #expect(failure?.message.contains("field 'state.optimizer_second[3]' is -0.25; adam's running averages of "
            + "squares are never negative") == true, "\(failure?.message ?? "accepted")")
    }

    @Test("a missing field, a bad rank count and an impossible epoch count are refused the same way")
    func otherFields() throws {
        let missing = try resume { payload in
            var state = payload["state"] as! [String: Any]
            state["last_loss"] = nil
            payload["state"] = state
        }
        #expect(missing?.exitCode == 65)
        #expect(missing?.message.contains("field 'state.last_loss' is missing") == true, "\(missing?.message ?? "")")
        let ranks = try resume { $0["ranks"] = 0 }
        #expect(ranks?.message.contains("field 'ranks' is 0, outside 1..") == true, "\(ranks?.message ?? "")")
        let epochs = try resume { payload in
            var configuration = payload["configuration"] as! [String: Any]
            configuration["epochs"] = Int.max
            payload["configuration"] = configuration
        }
        #expect(epochs?.exitCode == 65)
        #expect(epochs?.message.contains("field 'configuration.epochs'") == true, "\(epochs?.message ?? "")")
    }
}
