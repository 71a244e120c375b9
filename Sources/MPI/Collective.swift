/// A reduction applied element-wise by ``Collective/allreduce(_:_:)``.
public enum ReduceOperation: Sendable {
    case sum, min, max
}

/// The collective operations the trainer needs, independent of the transport.
///
/// ``Communicator`` implements them with MPI; ``SingleProcess`` is the one-rank identity used by unit tests, so
/// the trainer can be exercised without `mpirun`. Every rank must call the same operations in the same order.
public protocol Collective {
    /// This process's rank, from 0 to `size - 1`.
    var rank: Int { get }
    /// The number of ranks in the job.
    var size: Int { get }
    /// Reduces `values` element-wise across all ranks, in place; every rank receives the result.
    func allreduce(_ values: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) throws
    /// Reduces `values` element-wise across all ranks, in place; every rank receives the result.
    func allreduce(_ values: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) throws
    /// Reduces `values` element-wise across all ranks, in place; every rank receives the result.
    func allreduce(_ values: UnsafeMutableBufferPointer<Int64>, _ operation: ReduceOperation) throws
    /// Replaces `bytes` on every rank with the bytes of rank `root` (lengths may differ before the call).
    func broadcast(_ bytes: inout [UInt8], root: Int) throws
    /// Gathers one byte string from every rank, in rank order, on every rank.
    func allgather(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// Sends `countPerRank` values to every rank (`values` holds rank 0's, then rank 1's, ...) and returns those
    /// every rank sent this one, in rank order: each rank moves `countPerRank x size` values, however many ranks.
    func alltoall(_ values: [Int64], countPerRank: Int) throws -> [Int64]
    /// Waits until every rank has called it.
    func barrier() throws
    /// Ends the whole job at once with `code`; use only when the ranks cannot agree to stop.
    func abort(code: Int32) -> Never
}

extension Collective {
    /// Reduces an array in place across all ranks.
    public func allreduce(_ values: inout [Double], _ operation: ReduceOperation) throws {
        try values.withUnsafeMutableBufferPointer { try allreduce($0, operation) }
    }

    /// Reduces an array in place across all ranks.
    public func allreduce(_ values: inout [Int64], _ operation: ReduceOperation) throws {
        try values.withUnsafeMutableBufferPointer { try allreduce($0, operation) }
    }

    /// Reduces an array in place across all ranks.
    public func allreduce(_ values: inout [Float], _ operation: ReduceOperation) throws {
        try values.withUnsafeMutableBufferPointer { try allreduce($0, operation) }
    }

    /// Reduces one value across all ranks.
    public func allreduce(_ value: Int64, _ operation: ReduceOperation) throws -> Int64 {
        var values = [value]
        try allreduce(&values, operation)
        return values[0]
    }
}
