/// The help of the options that say which data and rows a run uses, shared by `train` and `info --shape`.
enum DataHelp {
    static let data = "The data file (default: $AIRFOIL_DP_DATA, else data/airfoil_self_noise.dat)."
    static let rows = "Train on the first N rows (default: 1500, or the whole file if shorter; all generated rows of "
        + "synthetic data, less --val-rows)."
    static let validationRows = "Hold out the N rows after the training rows"
}
