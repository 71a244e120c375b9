import Foundation

/// The least-squares optimum of the standardised airfoil problem, computed independently of the trainer:
/// its own parsing, standardisation and normal equations in Double.
public enum LeastSquares {
    /// The smallest achievable mean of `(y_hat - y)^2 / 2` over the first `rows` rows.
    public static func optimumLoss(path: String, rows: Int = 1500) -> Double {
        let text = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        let table = text.split(whereSeparator: \.isNewline)
            .map { $0.split(separator: "\t").map { Double($0.trimmingCharacters(in: .whitespaces))! } }
        let columns = table[0].count
        let count = Double(table.count)
        let means = (0..<columns).map { c in table.map { $0[c] }.reduce(0, +) / count }
        let deviations = (0..<columns).map { c in
            (table.map { ($0[c] - means[c]) * ($0[c] - means[c]) }.reduce(0, +) / count).squareRoot()
        }
        let standardised = table.prefix(rows).map { row in (0..<columns).map { (row[$0] - means[$0]) / deviations[$0] } }
        let width = columns  // features and a bias column
        var normal = Array(repeating: Array(repeating: 0.0, count: width + 1), count: width)
        for row in standardised {
            let x = Array(row.dropLast()) + [1]
            for i in 0..<width {
                for j in 0..<width { normal[i][j] += x[i] * x[j] }
                normal[i][width] += x[i] * row.last!
            }
        }
        // Gauss-Jordan elimination with partial pivoting on [X^T X | X^T y].
        for pivot in 0..<width {
            let best = (pivot..<width).max { abs(normal[$0][pivot]) < abs(normal[$1][pivot]) }!
            normal.swapAt(pivot, best)
            for row in 0..<width where row != pivot {
                let factor = normal[row][pivot] / normal[pivot][pivot]
                for column in pivot...width { normal[row][column] -= factor * normal[pivot][column] }
            }
        }
        let weights = (0..<width).map { normal[$0][width] / normal[$0][$0] }
        let loss = standardised.map { row -> Double in
            let x = Array(row.dropLast()) + [1]
            let error = zip(x, weights).map(*).reduce(0, +) - row.last!
            return error * error / 2
        }.reduce(0, +)
        return loss / Double(standardised.count)
    }
}
