import Foundation

/// The airfoil file the tests read: `$AIRFOIL_DP_DATA` when set, else `../shared/data/` beside the checkout.
public enum SharedData {
    public static var path: String {
        if let path = ProcessInfo.processInfo.environment["AIRFOIL_DP_DATA"], !path.isEmpty { return path }
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/airfoil_self_noise.dat").path
    }

    public static var bytes: [UInt8] {
        [UInt8](FileManager.default.contents(atPath: path) ?? Data())
    }

    /// A fresh temporary directory for one test.
    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("airfoil-dp-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
