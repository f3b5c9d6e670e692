namespace Grid.Cli.Runs;

/// <summary>
/// A run stopped on request (Ctrl+C, SIGTERM): its message is the one line the command prints, saying what was kept
/// and the command that resumes it.
/// </summary>
internal sealed class RunStoppedException(string message, Exception? inner = null) : OperationCanceledException(message, inner);
