import Testing

/// Every end-to-end suite is nested here so that they all run one at a time: they launch mpirun jobs that share
/// the machine's two cores, and the reliability tests bound how long a job may take to end.
@Suite(.serialized)
enum EndToEnd {}
