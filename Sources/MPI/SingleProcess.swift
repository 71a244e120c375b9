import Foundation

/// The collective of a job with one rank: every reduction is the identity.
///
/// Lets the trainer run, and be unit-tested, in a process that never initialises MPI.
public struct SingleProcess: Collective, Sendable {
    /// Creates the one-rank collective.
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduce(_ values: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) throws {}
    public func allreduce(_ values: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) throws {}
    public func allreduce(_ values: UnsafeMutableBufferPointer<Int64>, _ operation: ReduceOperation) throws {}
    public func broadcast(_ bytes: inout [UInt8], root: Int) throws {}
    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    public func alltoall(_ values: [Int64], countPerRank: Int) throws -> [Int64] { values }
    public func barrier() throws {}
    public func abort(code: Int32) -> Never { exit(code) }
}
