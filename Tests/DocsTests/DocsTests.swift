import Commands
import Common
import Data
import Formats
import Foundation
import Testing

/// The pages a user reads: every relative link lands on a file and heading that exist, the README stays a front
/// door, and the tables that name what the code defines (exit codes, file versions) agree with the code.
@Suite("Documentation")
struct DocsTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// README, CHANGELOG and every page in docs/, as paths relative to the repository.
    static var pages: [String] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: repository.appendingPathComponent("docs").path)) ?? []
        return ["README.md", "CHANGELOG.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
    }

    static func text(_ page: String) throws -> String {
        try String(contentsOf: repository.appendingPathComponent(page), encoding: .utf8)
    }

    /// The targets of Markdown links and images, `[text](target)`, outside code blocks and code spans.
    static func linkTargets(in markdown: String) -> [String] {
        var targets: [String] = []
        var inCodeBlock = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inCodeBlock.toggle(); continue }
            if inCodeBlock { continue }
            let prose = line.split(separator: "`", omittingEmptySubsequences: false).enumerated()
                .filter { $0.offset % 2 == 0 }.map(\.element).joined(separator: " ")
            var rest = Substring(prose)
            while let open = rest.range(of: "](") {
                let after = rest[open.upperBound...]
                guard let close = after.firstIndex(of: ")") else { break }
                targets.append(String(after[..<close]))
                rest = after[close...]
            }
        }
        return targets
    }

    /// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
    static func anchor(_ heading: String) -> String {
        String(heading.lowercased().compactMap { character -> Character? in
            if character == " " { return "-" }
            return character.isLetter || character.isNumber || character == "-" || character == "_" ? character : nil
        })
    }

    static func anchors(in markdown: String) -> Set<String> {
        var inCodeBlock = false
        var found = Set<String>()
        for line in markdown.split(separator: "\n") {
            if line.hasPrefix("```") { inCodeBlock.toggle(); continue }
            guard !inCodeBlock, line.hasPrefix("#") else { continue }
            found.insert(anchor(String(line.drop { $0 == "#" }.dropFirst())))
        }
        return found
    }

    @Test("every relative link and image in README, CHANGELOG and docs/ names a file, and a heading there", arguments: pages)
    func linksResolve(page: String) throws {
        let folder = URL(fileURLWithPath: page).deletingLastPathComponent().relativePath
        for target in Self.linkTargets(in: try Self.text(page)) where !target.contains("://") && !target.hasPrefix("mailto:") {
            let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let file = parts[0].isEmpty ? page : (folder == "." ? parts[0] : folder + "/" + parts[0])
            let resolved = Self.repository.appendingPathComponent(file).standardized
            #expect(resolved.path.hasPrefix(Self.repository.standardized.path + "/"),
                    "\(page): '\(target)' leaves the repository")
            #expect(FileManager.default.fileExists(atPath: resolved.path), "\(page): '\(target)' names no file")
            if parts.count == 2, file.hasSuffix(".md"), let linked = try? String(contentsOf: resolved, encoding: .utf8) {
                #expect(Self.anchors(in: linked).contains(parts[1]), "\(page): '\(target)' names no heading there")
            }
        }
    }

    @Test("the README is a front door: at most 250 lines, the two commands first")
    func readmeIsShort() throws {
        let readme = try Self.text("README.md")
        #expect(readme.split(separator: "\n", omittingEmptySubsequences: false).count <= 250)
        let commands = try #require(readme.range(of: "## The two commands"))
        #expect(readme[commands.upperBound...].contains("bash scripts/setup.sh && bash scripts/run.sh -np 16"))
        #expect(readme.contains("bash scripts/test.sh\n"))
    }

    @Test("every bundle name in the pages carries the version the binary reports", arguments: pages)
    func bundleVersions(page: String) throws {
        let text = try Self.text(page)
        var rest = Substring(text)
        while let found = rest.range(of: "airfoil-dp-") {
            let version = rest[found.upperBound...].prefix { $0.isNumber || $0 == "." }
            if rest[found.upperBound...].dropFirst(version.count).hasPrefix("-linux") {
                #expect(version == AirfoilDP.version, "\(page): a bundle of version \(version), the binary is \(AirfoilDP.version)")
            }
            rest = rest[found.upperBound...]
        }
    }

    /// A table row of the guide whose first cell is `first`.
    static func guideRow(startingWith first: String) throws -> String? {
        try text("docs/guide.md").split(separator: "\n").first { $0.hasPrefix("| " + first + " |") }.map(String.init)
    }

    @Test("the guide's exit-code table has a row for every code a job can fail with")
    func exitCodesListed() throws {
        for kind in JobFailure.Kind.allCases {
            #expect(try Self.guideRow(startingWith: "\(kind.rawValue)") != nil, "exit code \(kind.rawValue) (\(kind)) is missing")
        }
    }

    @Test("the guide's table of file versions gives the versions the code writes")
    func fileVersionsListed() throws {
        let expected = [
            "checkpoint (`--checkpoint`)": Checkpoint.formatVersion, "model file (`--save-model`)": ModelFile.formatVersion,
            "run log (`--log`)": RunLogSchema.version,
            "network profile (`bench allreduce --network-profile`)": NetworkProfile.formatVersion,
            "binary data (`convert --out`)": Int(BinaryDataHeader.formatVersion),
        ]
        for (file, version) in expected {
            let row = try #require(try Self.guideRow(startingWith: file), "no row for \(file)")
            #expect(row.hasPrefix("| \(file) | \(version) |"), "\(row)")
        }
    }
}
