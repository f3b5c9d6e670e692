namespace Grid.Cli.Benchmarks;

/// <summary>
/// A benchmark could not measure: its run failed or timed out on the grid, or a silo it started died or never came up.
/// The message says which, with what the grid or the silos said; <c>grid</c> prints it as one error and exits 1.
/// </summary>
public sealed class BenchmarkFailedException : Exception
{
    public BenchmarkFailedException()
    {
    }

    public BenchmarkFailedException(string message)
        : base(message)
    {
    }

    public BenchmarkFailedException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
