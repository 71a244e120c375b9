import Common
import Foundation

/// What an allreduce costs on one machine or cluster at one rank count: the median seconds of an in-place float
/// sum-allreduce for a ladder of message sizes, measured by `airfoil-dp bench allreduce --network-profile FILE`
/// under the launcher and placement the training jobs will use. `compare --predict --network FILE` takes the
/// allreduce part of a step's time from it instead of from the runs, which is how a rank count no run measured
/// gets a prediction.
///
/// On disk: one line `airfoil-dp network <version> <sha1 of the payload>`, then the payload as JSON (the layout of
/// checkpoints and model files). Version 1 (airfoil-dp 0.3).
public struct NetworkProfile: Codable, Equatable, Sendable {
    /// The format version this build reads and writes.
    public static let formatVersion = 1

    /// One measured message size.
    public struct Size: Codable, Equatable, Sendable {
        public var bytes: Int
        /// The median seconds of one allreduce of `bytes` bytes.
        public var medianSeconds: Double

        /// Creates a size's measurement.
        public init(bytes: Int, medianSeconds: Double) {
            self.bytes = bytes
            self.medianSeconds = medianSeconds
        }
    }

    /// The rank count measured, and the distinct hosts they ran on.
    public var ranks: Int
    public var hosts: Int
    /// The sizes, by increasing `bytes`.
    public var sizes: [Size]
    /// Where and when it was measured, for people: the CPU of rank 0, the MPI library, an ISO 8601 time.
    public var machine: String
    public var mpi: String
    public var measuredAt: String

    /// Creates a profile.
    public init(ranks: Int, hosts: Int, sizes: [Size], machine: String, mpi: String, measuredAt: String) {
        self.ranks = ranks
        self.hosts = hosts
        self.sizes = sizes
        self.machine = machine
        self.mpi = mpi
        self.measuredAt = measuredAt
    }

    /// The median seconds of an allreduce of `bytes` bytes: interpolated linearly between the two measured sizes
    /// around it (an allreduce's time is affine in its bytes between protocol switches), extended along the last
    /// two sizes' slope past the largest, and the smallest size's time below it (latency dominates there).
    public func seconds(bytes: Int) -> Double {
        let x = Double(bytes)
        guard let upper = sizes.firstIndex(where: { $0.bytes >= bytes }) else {
            guard sizes.count >= 2 else { return sizes[0].medianSeconds }
            let (a, b) = (sizes[sizes.count - 2], sizes[sizes.count - 1])
            let slope = (b.medianSeconds - a.medianSeconds) / Double(b.bytes - a.bytes)
            return b.medianSeconds + max(slope, 0) * (x - Double(b.bytes))
        }
        guard upper > 0 else { return sizes[0].medianSeconds }
        let (a, b) = (sizes[upper - 1], sizes[upper])
        let fraction = (x - Double(a.bytes)) / Double(b.bytes - a.bytes)
        return a.medianSeconds + fraction * (b.medianSeconds - a.medianSeconds)
    }

    /// The file's bytes.
    public func encoded() throws -> [UInt8] {
        Self.layout.encode([UInt8](try JSONFormat.encoder().encode(self)))
    }

    static let layout = DigestedFile(kind: "network", version: formatVersion)

    /// Writes the file atomically.
    public func write(to path: String) throws {
        try AtomicFile.write(try encoded(), to: path, what: "the network profile")
    }

    /// Parses and validates a profile's bytes.
    /// - Throws: ``JobFailure`` of kind `.invalidData` naming the problem.
    public static func decode(_ bytes: [UInt8], source: String) throws -> NetworkProfile {
        let what = "network profile '\(source)'"
        let payload = try layout.payload(of: bytes, what: what)
        let profile: NetworkProfile
        do {
            profile = try JSONFormat.decoder().decode(NetworkProfile.self, from: Data(payload))
        } catch let error as DecodingError {
            throw JobFailure(.invalidData, "\(what) has a valid checksum, but \(error.fieldProblem)")
        } catch {
            throw JobFailure(.invalidData, "\(what) has a valid checksum but unreadable content")
        }
        if let problem = profile.problem { throw JobFailure(.invalidData, "\(what) \(problem)") }
        return profile
    }

    /// The first field that makes no profile, if any.
    var problem: String? {
        guard ranks >= 2 else { return "field 'ranks' is \(ranks); a profile measures 2 ranks or more" }
        guard (1...ranks).contains(hosts) else { return "field 'hosts' is \(hosts), outside 1...\(ranks)" }
        guard !sizes.isEmpty else { return "field 'sizes' is empty" }
        for (index, size) in sizes.enumerated() {
            guard size.bytes > 0 else { return "field 'sizes[\(index)].bytes' is \(size.bytes), not positive" }
            guard size.medianSeconds.isFinite, size.medianSeconds >= 0 else {
                return "field 'sizes[\(index)].median_seconds' is \(size.medianSeconds), not a finite time"
            }
            if index > 0, size.bytes <= sizes[index - 1].bytes {
                return "field 'sizes' is not in increasing bytes at index \(index)"
            }
        }
        return nil
    }
}
