using Microsoft.Extensions.Logging;

namespace Grid.Cli.Embedded;

/// <summary>
/// The embedded grid's log (Orleans and Grid, warnings and up) in a file of the run folder instead of the terminal:
/// what a silo says while it stops (reminder service, disposed objects) is for the curious, not for the person
/// watching the progress. Lines are flushed as written, so a killed run keeps its log.
/// </summary>
internal sealed class RunLogProvider(string path) : ILoggerProvider
{
    private readonly object _gate = new();
    private StreamWriter? _writer;
    private bool _failed;

    public string Path { get; } = path;

    public ILogger CreateLogger(string categoryName) => new RunLogger(this, categoryName);

    public void Dispose()
    {
        lock (_gate)
        {
            _writer?.Dispose();
            _writer = null;
            _failed = true; // late shutdown messages after this have nowhere to go
        }
    }

    private void Write(string line)
    {
        lock (_gate)
        {
            if (_failed)
            {
                return;
            }

            try
            {
                _writer ??= new StreamWriter(new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
                _writer.WriteLine(line);
            }
            catch (IOException)
            {
                _failed = true; // a full disk must not turn logging into the run's failure
            }
        }
    }

    private sealed class RunLogger(RunLogProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            string line = $"{DateTimeOffset.UtcNow:O} {logLevel} {category}: {formatter(state, exception)}";
            provider.Write(exception is null ? line : line + Environment.NewLine + exception);
        }
    }
}
