import Common
import MPI

/// Loads a rank's rows of synthetic data: it generates exactly the rows it holds, from their global indices.
enum SyntheticShardReader {
    /// Generates this rank's rows; `admit` sees the rows every rank will hold before any is made, and may refuse
    /// them (the memory check).
    static func read(_ data: SyntheticData, requestedRows: Int?, requestedBy: String = "\(Setting.rows)", validationRows: Int,
                     defaultRows: Int? = nil, collective: some Collective, admit: (ShardShape) throws -> Void) throws -> RawShard
    {
        let plan = try collective.agree {
            let plan = try ShardPlan.make(
                requested: requestedRows, requestedBy: requestedBy, validationRows: validationRows,
                available: data.rows,
                defaultRows: defaultRows ?? data.rows - validationRows, ranks: collective.size, source: data.specification)
            try admit(plan.shape(columns: data.features + 1))
            return plan
        }
        let generator = data.generator
        var values: [Double] = []
        generator.row(0, into: &values)
        var statistics = ColumnStatistics(shift: values)
        func generate(_ rows: Range<Int>) -> [Double] {
            var all: [Double] = []
            all.reserveCapacity(rows.count * (data.features + 1))
            for index in rows {
                generator.row(index, into: &values)
                all += values
            }
            all.withUnsafeBufferPointer { statistics.add(rows: $0) }
            return all
        }
        let training = plan.training(of: collective.rank)
        let validation = plan.validation(of: collective.rank)
        let trainingValues = generate(training)
        let validationValues = generate(validation)
        var packed = statistics.packed
        try collective.allreduce(&packed, .sum)
        statistics.unpack(packed)
        let standardisation = Result { () throws(JobFailure) in try statistics.standardisation(source: data.specification) }
        return RawShard(
            dataRows: data.rows, columns: data.features + 1, trainingRows: plan.trainingRows, training: training,
            trainingValues: .raw([trainingValues[...]]), validationTotal: plan.validationRows, validation: validation,
            validationValues: .raw([validationValues[...]]), standardisation: standardisation, bytesRead: 0)
    }
}
