namespace Grid.Training.Faults;

/// <summary>
/// A failure made on purpose by the run's <c>faults</c> settings; its own type so logs and tests tell it from a real
/// failure.
/// </summary>
public sealed class InjectedFaultException(string message) : Exception(message);
