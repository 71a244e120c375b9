import Comparison
import Foundation

/// libFuzzer target: any bytes as a run log given to `airfoil-dp compare`, read, grouped with a second copy of
/// itself in one of the scaling modes, fitted against batch (`compare --fit`), planned (`--plan`), its rate range
/// taken (`--lr-range`) and rendered in every format.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRunLog(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(bytes: data, count: size)
    switch RunLogParser.parse(bytes, source: "fuzz", target: 0.25) {
    case .success(let run):
        // One scaling mode per input (by its length), so every mode is reached at a third of the cost.
        let rows = ScalingAnalysis.rows([run, run], mode: ScalingMode.allCases[size % ScalingMode.allCases.count])
        let fits = BatchSizeSweeps.fits(rows)
        for format in TableFormat.allCases {
            // Every figure renders in every format (JSON writes a figure that is not finite as null).
            do {
                _ = try format.render(rows, target: 0.25)
                _ = try format.render(fits: fits, target: 0.25)
                _ = try format.render(plan: BatchSizePlan.rows(studies: TimeToTarget.studies(rows)), target: 0.25)
                _ = try format.render(rateRanges: LearningRateRange.rows(rows), target: 0.25)
            } catch {
                preconditionFailure("\(format) could not render: \(error)")
            }
        }
    case .failure(let problem):
        precondition(!problem.reason.contains("\n"), "a refusal that is not one line")
    }
    return 0
}
