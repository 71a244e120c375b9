import Common
import MPI

/// Loads a rank's rows of synthetic data: it generates exactly the rows it holds, from their global indices.
enum SyntheticShardReader {
    static func read(_ data: SyntheticData, requestedRows: Int?, validationRows: Int, collective: some Collective)
        throws -> RawShard
    {
        let plan = try collective.agree {
            try ShardPlan.make(
                requested: requestedRows, validationRows: validationRows, available: data.rows,
                defaultRows: data.rows - validationRows, ranks: collective.size, source: data.specification)
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
                statistics.add(values)
                all += values
            }
            return all
        }
        let training = plan.training(of: collective.rank)
        let validation = plan.validation(of: collective.rank)
        let trainingValues = generate(training)
        let validationValues = generate(validation)
        var packed = statistics.packed
        try collective.allreduce(&packed, .sum)
        statistics.unpack(packed)
        return RawShard(
            dataRows: data.rows, columns: data.features + 1, trainingRows: plan.trainingRows, training: training,
            trainingValues: trainingValues, validationTotal: plan.validationRows, validation: validation,
            validationValues: validationValues, statistics: statistics, bytesRead: 0)
    }
}
