/// The folder and the name of a path, split at its last slash as POSIX `dirname` and `basename` split it.
///
/// Written here because Foundation's `NSString` path methods trap on a one-character path (swift-corelibs-foundation
/// of Swift 6.3: `("L" as NSString).deletingLastPathComponent` stops the process), and paths are user input.
public enum PathComponents {
    /// The folder `path` is in: "." for a bare name, "/" for a name at the root.
    public static func folder(of path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        let folder = trimmingTrailingSlashes(String(trimmed[..<slash]))
        return folder.isEmpty ? "/" : folder
    }

    /// The last component of `path` (the path itself when it has no slash).
    public static func name(of path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    /// `name` inside `folder`.
    public static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// `path` without trailing slashes ("/" stays "/").
    private static func trimmingTrailingSlashes(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }
}
