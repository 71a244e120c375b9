import Formats
import Foundation
import MPI

extension HostRanks {
    /// Every rank's host name (`gethostname`), gathered on every rank and grouped by host in order of first rank.
    public static func gather(_ collective: some Collective) throws -> [HostRanks] {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        let local = name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
        var hosts: [HostRanks] = []
        for (rank, bytes) in try collective.allgather(local).enumerated() {
            let host = String(decoding: bytes, as: UTF8.self)
            if let index = hosts.firstIndex(where: { $0.name == host }) {
                hosts[index].ranks.append(rank)
            } else {
                hosts.append(HostRanks(name: host, ranks: [rank]))
            }
        }
        return hosts
    }
}
