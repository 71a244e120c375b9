import CMPI
import Foundation

/// An MPI call that returned an error code (the communicator uses `MPI_ERRORS_RETURN`).
public struct MPIError: Error, CustomStringConvertible, Sendable {
    /// The MPI function that failed.
    public let function: String
    /// MPI's error code.
    public let code: Int32
    /// What went wrong, when it is not MPI's own error (then MPI's text for `code` is used).
    public let reason: String?

    public init(function: String, code: Int32, reason: String? = nil) {
        self.function = function
        self.code = code
        self.reason = reason
    }

    public var description: String {
        if let reason { return "\(function) failed: \(reason)" }
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        return "\(function) failed: \(String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))"
    }
}

/// `MPI_COMM_WORLD` with Swift errors instead of MPI's fatal default handler.
///
/// The handle is immutable and MPI is initialised for one thread (`MPI_THREAD_FUNNELED`): only the thread that
/// called ``initialize()`` may use it, which is why the `Sendable` conformance is unchecked.
public struct Communicator: Collective, @unchecked Sendable {
    private let handle: MPI_Comm

    public let rank: Int
    public let size: Int

    /// This process's rank as the launcher (OpenMPI, PMIx, Slurm) announced it in the environment, before MPI is
    /// started; nil when no launcher started it.
    public static var launcherRank: Int? {
        let environment = ProcessInfo.processInfo.environment
        for name in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"] {
            if let value = environment[name], let rank = Int(value) { return rank }
        }
        return nil
    }

    /// True once this process has called `MPI_Init_thread`, even if it has since finalised: MPI may be
    /// initialised only once per process, so a failure path must not try again.
    public static var hasStarted: Bool {
        var initialized: Int32 = 0
        var finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        return initialized != 0 || finalized != 0
    }

    /// Initialises MPI (once per process) and returns the world communicator.
    ///
    /// Started without `mpirun`, the process becomes a singleton job of size 1.
    /// - Throws: ``MPIError`` when MPI was already started in this process, when initialisation fails, or when the
    ///   library cannot give `MPI_THREAD_FUNNELED` (the watchdog thread exists while the main thread calls MPI).
    public static func initialize() throws -> Communicator {
        guard !hasStarted else {
            throw MPIError(function: "MPI_Init_thread", code: MPI_ERR_OTHER, reason: "MPI was already started in this process")
        }
        var provided: Int32 = 0
        try check("MPI_Init_thread", MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided))
        guard provided >= Int32(MPI_THREAD_FUNNELED) else {
            MPI_Finalize()
            throw MPIError(function: "MPI_Init_thread", code: MPI_ERR_OTHER, reason: "the library gives thread level "
                + "\(provided), below the MPI_THREAD_FUNNELED (\(MPI_THREAD_FUNNELED)) the watchdog thread needs")
        }
        let world = cmpi_comm_world()
        try check("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(world, cmpi_errors_return()))
        var rank: Int32 = 0
        var size: Int32 = 0
        try check("MPI_Comm_rank", MPI_Comm_rank(world, &rank))
        try check("MPI_Comm_size", MPI_Comm_size(world, &size))
        return Communicator(handle: world, rank: Int(rank), size: Int(size))
    }

    /// Shuts MPI down; call once, after the last collective, on every rank.
    public func finalize() {
        MPI_Finalize()
    }

    /// The MPI library's own version string (for example "Open MPI v4.1.4, ...").
    public static var libraryVersion: String {
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_LIBRARY_VERSION_STRING) + 1)
        var length: Int32 = 0
        MPI_Get_library_version(&text, &length)
        // The length OpenMPI returns counts the terminating NUL: stop at the first NUL.
        let bytes = text.prefix(Int(length)).prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The MPI standard the library implements, as "major.minor".
    public static var standardVersion: String {
        var major: Int32 = 0
        var minor: Int32 = 0
        MPI_Get_version(&major, &minor)
        return "\(major).\(minor)"
    }

    /// The most elements one MPI call moves. MPI counts are C `int`s, so a transfer past `Int32.max` elements goes in
    /// chunks of at most this many; `AIRFOIL_DP_MPI_CHUNK` (a debug variable, like `AIRFOIL_DP_FAULT`) sets a smaller
    /// limit, so that tests exercise the chunked paths without buffers of 2 GiB.
    public static let chunkLimit: Int = {
        let limit = Int(Int32.max)
        guard let text = ProcessInfo.processInfo.environment["AIRFOIL_DP_MPI_CHUNK"], let value = Int(text) else {
            return limit
        }
        return min(max(value, 1), limit)
    }()

    public func allreduce(_ values: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) throws {
        try allreduce(values.baseAddress, values.count, cmpi_float(), MemoryLayout<Float>.stride, operation)
    }

    public func allreduce(_ values: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) throws {
        try allreduce(values.baseAddress, values.count, cmpi_double(), MemoryLayout<Double>.stride, operation)
    }

    public func allreduce(_ values: UnsafeMutableBufferPointer<Int64>, _ operation: ReduceOperation) throws {
        try allreduce(values.baseAddress, values.count, cmpi_int64(), MemoryLayout<Int64>.stride, operation)
    }

    public func broadcast(_ bytes: inout [UInt8], root: Int) throws {
        var count = Int64(bytes.count)
        try Self.check("MPI_Bcast", MPI_Bcast(&count, 1, cmpi_int64(), Int32(root), handle))
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(count)) }
        try bytes.withUnsafeMutableBytes { buffer in
            for chunk in Self.chunks(of: buffer.count) {
                try Self.check("MPI_Bcast", MPI_Bcast(
                    buffer.baseAddress! + chunk.lowerBound, Int32(chunk.count), cmpi_byte(), Int32(root), handle))
            }
        }
    }

    /// Gathers every rank's bytes in rounds: each round moves at most ``chunkLimit`` bytes from each rank and at
    /// most `Int32.max` in all (the receive displacements are `int`s too).
    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var lengths = [Int64](repeating: 0, count: size)
        var length = Int64(bytes.count)
        try Self.check("MPI_Allgather", MPI_Allgather(&length, 1, cmpi_int64(), &lengths, 1, cmpi_int64(), handle))
        var gathered = lengths.map { [UInt8](repeating: 0, count: Int($0)) }
        let perRound = max(1, min(Self.chunkLimit, Int(Int32.max) / size))
        let longest = Int(lengths.max() ?? 0)
        var counts = [Int32](repeating: 0, count: size)
        var offsets = [Int32](repeating: 0, count: size)
        var round = [UInt8](repeating: 0, count: max(min(perRound * size, Int(clamping: lengths.reduce(0, +))), 1))
        for start in stride(from: 0, to: longest, by: perRound) {
            var offset = 0
            for other in 0..<size {
                let count = max(0, min(Int(lengths[other]) - start, perRound))
                counts[other] = Int32(count)
                offsets[other] = Int32(offset)
                offset += count
            }
            let mine = bytes.count > start ? Array(bytes[start..<min(start + perRound, bytes.count)]) : []
            try mine.withUnsafeBytes { send in
                try round.withUnsafeMutableBytes { receive in
                    try Self.check("MPI_Allgatherv", MPI_Allgatherv(
                        send.baseAddress, counts[rank], cmpi_byte(), receive.baseAddress, counts, offsets, cmpi_byte(),
                        handle))
                }
            }
            for other in 0..<size where counts[other] > 0 {
                let first = Int(offsets[other])
                gathered[other].replaceSubrange(
                    start..<(start + Int(counts[other])), with: round[first..<(first + Int(counts[other]))])
            }
        }
        return gathered
    }

    /// Exchanges the values in rounds of at most ``chunkLimit`` values per pair of ranks.
    public func alltoall(_ values: [Int64], countPerRank: Int) throws -> [Int64] {
        guard values.count == countPerRank * size else {
            throw MPIError(function: "MPI_Alltoall", code: MPI_ERR_COUNT, reason: "\(values.count) values are not "
                + "\(countPerRank) for each of \(size) ranks")
        }
        var received = [Int64](repeating: 0, count: values.count)
        for part in Self.chunks(of: countPerRank) {
            let send = (0..<size).flatMap { peer in values[(peer * countPerRank + part.lowerBound)..<(peer * countPerRank + part.upperBound)] }
            var round = [Int64](repeating: 0, count: send.count)
            try Self.check("MPI_Alltoall", MPI_Alltoall(
                send, Int32(part.count), cmpi_int64(), &round, Int32(part.count), cmpi_int64(), handle))
            for peer in 0..<size {
                received.replaceSubrange(
                    (peer * countPerRank + part.lowerBound)..<(peer * countPerRank + part.upperBound),
                    with: round[(peer * part.count)..<((peer + 1) * part.count)])
            }
        }
        return received
    }

    public func barrier() throws {
        try Self.check("MPI_Barrier", MPI_Barrier(handle))
    }

    public func abort(code: Int32) -> Never {
        MPI_Abort(handle, code)
        exit(code)
    }

    private func allreduce(
        _ address: UnsafeMutableRawPointer?, _ count: Int, _ type: MPI_Datatype, _ stride: Int,
        _ operation: ReduceOperation
    ) throws {
        // One rank: the reduction is the identity, so skip the library call (a quarter of an sgd step on one rank).
        guard count > 0, size > 1, let address else { return }
        let op: MPI_Op = switch operation {
        case .sum: cmpi_sum()
        case .min: cmpi_min()
        case .max: cmpi_max()
        }
        for chunk in Self.chunks(of: count) {
            try Self.check("MPI_Allreduce", MPI_Allreduce(
                cmpi_in_place(), address + chunk.lowerBound * stride, Int32(chunk.count), type, op, handle))
        }
    }

    /// `0 ..< count` in consecutive ranges of at most ``chunkLimit`` elements.
    private static func chunks(of count: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: chunkLimit).map { $0..<min($0 + chunkLimit, count) }
    }

    private static func check(_ function: String, _ code: Int32) throws {
        guard code == MPI_SUCCESS else { throw MPIError(function: function, code: code) }
    }
}

