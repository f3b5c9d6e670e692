using System.Diagnostics;
using static TorchSharp.torch;

namespace Grid.Training.Benchmarks;

/// <summary>fp32 matrix-multiply throughput of this machine, the yardstick for the model's measured FLOP/s.</summary>
public static class GemmPeak
{
    /// <summary>Median GFLOP/s of <paramref name="repeats"/> timed n x n x n matmuls (after a warm-up).</summary>
    public static double MeasureGflops(int n = 1024, int repeats = 7)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n);
        var b = randn(n, n);
        matmul(a, b).Dispose();
        var seconds = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            var clock = Stopwatch.StartNew();
            matmul(a, b).Dispose();
            seconds.Add(clock.Elapsed.TotalSeconds);
        }

        return 2.0 * n * n * n / BenchStatistics.Median(seconds) / 1e9;
    }
}
