import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// A text file of several of the reader's 4 MiB chunks, split among ranks.
    @Suite("a large text file under mpirun")
    struct LargeTextRunTests {
        @Test("ranks whose byte ranges span several chunks load the rows one rank loads, each reading about its share")
        func rangesOfSeveralChunks() throws {
            var random = TestRandom(state: 5)
            var text = ""
            for _ in 0..<200_000 {
                text += (0..<6).map { _ in String(format: "%.5f", Double(random.float())) }.joined(separator: ",") + "\n"
            }
            let folder = try SharedData.temporaryDirectory()
            let path = folder.appendingPathComponent("large.csv").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            var digests: [String] = []
            for ranks in [1, 3] {
                let log = folder.appendingPathComponent("run-\(ranks).jsonl").path
                let result = try Launcher.run(
                    ["--data", path, "--rows", "199000", "--val-rows", "1000", "--reproducible", "--epochs", "1",
                     "--global-batch", "20000", "--quiet", "--log", log], ranks: ranks)
                try #require(result.status == 0, "\(ranks) ranks: \(result.standardError)")
                let records = try RunLogReader.records(at: log)
                let bytes = try #require(records[0]["bytes_read"] as? [Int])
                #expect(bytes.allSatisfy { Double($0) <= (ranks == 1 ? 1.01 : 0.36) * Double(text.utf8.count) }, "\(bytes)")
                digests.append(try #require(records.last?["params_digest"] as? String))
            }
            #expect(digests[0] == digests[1])
        }
    }
}
