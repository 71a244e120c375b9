import Common
import Formats
import Foundation
import MPI

/// Where each rank's time went, step by step, as a Chrome trace (the Trace Event format that Perfetto and
/// chrome://tracing open, as Horovod's timeline does): `--timeline FILE`.
///
/// Each rank records spans into a buffer allocated before training (no allocation while it runs), for the first
/// `stepLimit` steps; at the end every rank's spans are gathered and rank 0 writes one file, one process per rank
/// (`pid` = rank). Times are microseconds from a barrier that all ranks leave together, so spans line up across
/// ranks (on one host exactly; across hosts to within the barrier's own skew).
public final class Timeline {
    /// What a span was spent on.
    public enum Kind: UInt8, CaseIterable, Sendable {
        case load, gather, gradient, allreduce, update, evaluation, checkpoint

        var name: String {
            switch self {
            case .load: "load"
            case .gather: "gather"
            case .gradient: "gradient"
            case .allreduce: "allreduce"
            case .update: "update"
            case .evaluation: "evaluation"
            case .checkpoint: "checkpoint"
            }
        }
    }

    /// Spans are recorded for steps `0 ..< stepLimit`.
    public let stepLimit: Int
    private let kinds: UnsafeMutableBufferPointer<UInt8>
    private let starts: UnsafeMutableBufferPointer<UInt64>
    private let ends: UnsafeMutableBufferPointer<UInt64>
    private let steps: UnsafeMutableBufferPointer<Int64>
    private var count = 0
    /// The monotonic time that is 0 in the trace.
    private var origin: UInt64 = 0

    /// Allocates room for `stepLimit` steps' spans.
    public init(stepLimit: Int) {
        self.stepLimit = stepLimit
        // Per step: gradient, allreduce, update, and at most one evaluation, checkpoint and epoch gather; plus load.
        let capacity = 6 * stepLimit + 16
        kinds = .allocate(capacity: capacity)
        starts = .allocate(capacity: capacity)
        ends = .allocate(capacity: capacity)
        steps = .allocate(capacity: capacity)
    }

    deinit {
        kinds.deallocate()
        starts.deallocate()
        ends.deallocate()
        steps.deallocate()
    }

    /// Sets the trace's time 0: call on every rank right after a barrier.
    public func start(at now: UInt64) { origin = now }

    /// Records a span; spans past the buffer's end are dropped.
    @inline(__always)
    public func add(_ kind: Kind, from start: UInt64, to end: UInt64, step: Int) {
        guard count < kinds.count else { return }
        kinds[count] = kind.rawValue
        starts[count] = start
        ends[count] = end
        steps[count] = Int64(step)
        count += 1
    }

    /// Gathers every rank's spans and, on rank 0, writes the trace to `path` (temporary file and rename).
    public func write(to path: String, collective: some Collective, hosts: [HostRanks]) throws {
        var local: [Int64] = []
        local.reserveCapacity(count * 4)
        for index in 0..<count {
            local += [Int64(kinds[index]), Int64(bitPattern: starts[index] &- origin),
                      Int64(bitPattern: ends[index] &- origin), steps[index]]
        }
        let gathered = try collective.allgather(local.withUnsafeBytes { Array($0) })
        guard collective.rank == 0 else { return }
        let all = gathered.map { bytes in bytes.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) } }
        // Loading happens before the barrier that sets time 0: shift so that the earliest span starts at 0.
        let earliest = all.flatMap { values in stride(from: 1, to: values.count, by: 4).map { values[$0] } }.min() ?? 0
        var events: [String] = []
        for (rank, values) in all.enumerated() {
            let host = hosts.first { $0.ranks.contains(rank) }?.name ?? "?"
            events.append(#"{"name":"process_name","ph":"M","pid":\#(rank),"args":{"name":"rank \#(rank) (\#(host))"}}"#)
            events.append(#"{"name":"process_sort_index","ph":"M","pid":\#(rank),"args":{"sort_index":\#(rank)}}"#)
            for event in stride(from: 0, to: values.count - 3, by: 4) {
                guard let kind = Kind(rawValue: UInt8(clamping: values[event])) else { continue }
                let start = String(format: "%.3f", Double(values[event + 1] - earliest) / 1000)
                let duration = String(format: "%.3f", Double(values[event + 2] - values[event + 1]) / 1000)
                events.append(#"{"name":"\#(kind.name)","ph":"X","pid":\#(rank),"tid":0,"ts":\#(start),"dur":\#(duration),"#
                    + #""args":{"step":\#(values[event + 3])}}"#)
            }
        }
        let text = #"{"displayTimeUnit":"ms","traceEvents":["# + events.joined(separator: ",\n") + "]}\n"
        try AtomicFile.write(Array(text.utf8), to: path, what: "the timeline")
    }
}
