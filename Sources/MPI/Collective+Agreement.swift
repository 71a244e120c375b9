import Common

extension Collective {
    /// Runs `body` on every rank and makes its failure a collective decision.
    ///
    /// All ranks learn whether any rank failed, through one allreduce. If one did, the lowest failing rank
    /// prints its one-line reason and every rank throws that rank's failure kind (marked as reported), so all
    /// ranks leave together with the same exit code and nobody waits in a collective that will never come.
    public func agree<Value>(_ body: () throws -> Value) throws -> Value {
        var outcome: Result<Value, JobFailure>
        do {
            outcome = .success(try body())
        } catch let failure as JobFailure {
            outcome = .failure(failure)
        } catch {
            outcome = .failure(JobFailure(.runtime, "\(error)"))
        }
        var local = Int64.max
        if case .failure(let failure) = outcome {
            local = Int64(rank) * 256 + Int64(failure.exitCode & 0xff)
        }
        let first = try allreduce(local, .min)
        switch outcome {
        case .success(let value) where first == .max:
            return value
        case .failure(let failure) where Int64(rank) == first / 256:
            Console.error(failure.message, rank: rank, size: size)
            throw JobFailure(kind: failure.kind, message: failure.message, reported: true)
        default:
            let kind = JobFailure.Kind(rawValue: Int32(first % 256)) ?? .runtime
            throw JobFailure(kind: kind, message: "rank \(first / 256) failed", reported: true)
        }
    }
}
