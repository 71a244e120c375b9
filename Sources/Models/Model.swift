/// A regression model trained by data-parallel SGD: every parameter in one flat buffer, and the summed gradient of
/// a batch written into another of the same length, so one allreduce per step carries the whole model's gradient
/// and every optimizer works on any model unchanged.
///
/// Inputs are rows of the standardised features followed by a 1 (the bias input), `features + 1` floats each, as
/// ``TrainingShard`` stores them. The loss of a row is `(y_hat - y)^2 / 2`. A model owns its scratch space,
/// allocated once for ``maxRows`` rows, so a training step allocates nothing.
public protocol Model: AnyObject {
    /// Every parameter, in the model's fixed order; updated in place by the optimizer.
    var parameters: UnsafeMutableBufferPointer<Float> { get }
    /// The most rows one call of ``accumulateGradient(inputs:targets:count:into:)`` or ``predict`` may pass.
    var maxRows: Int { get }

    /// Writes the sum over `count` rows of the per-example gradients into `gradient` (`parameters.count` floats).
    func accumulateGradient(
        inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int,
        into gradient: UnsafeMutablePointer<Float>)

    /// Writes the predictions (standardised units) of `count` rows into `predictions`.
    func predict(inputs: UnsafePointer<Float>, count: Int, into predictions: UnsafeMutablePointer<Float>)

    /// The sum over `count` rows (any number: taken ``maxRows`` at a time) of `(y_hat - y)^2 / 2`, in Double.
    func squaredErrorSum(inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int) -> Double
}

extension Model {
    /// A copy of the parameters.
    public var parameterValues: [Float] { Array(parameters) }
}
