import Common
import Foundation

/// Where the data file is looked for, in the order real tools use: an explicit flag, then an environment
/// variable, then a `data/` folder under the working directory.
public enum DataLocation {
    /// The environment variable that names the data file.
    public static let environmentVariable = "AIRFOIL_DP_DATA"
    /// The default file, relative to the working directory (where `fetch-data` puts it).
    public static let defaultPath = "data/airfoil_self_noise.dat"

    /// The path to read: `flag` if given, else `$AIRFOIL_DP_DATA` if set and non-empty, else ``defaultPath``.
    public static func resolve(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        if let flag { return flag }
        if let fromEnvironment = environment[environmentVariable], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return defaultPath
    }
}
