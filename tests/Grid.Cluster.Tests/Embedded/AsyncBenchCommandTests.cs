using System.Text.Json;
using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Embedded;

/// <summary>
/// `grid bench --suite async`, tiny: the real part on two silo processes (smoke model, 3 steps, one timed) and the
/// simulated part on 1 and 2 rollout silos, for k = 0 and 1. Checks the tables' rows and that every figure is sane.
/// </summary>
public sealed class AsyncBenchCommandTests : IAsyncDisposable
{
    private readonly string _workFolder = Directory.CreateTempSubdirectory("grid-bench-async-").FullName;
    private GridProcess? _bench;

    [Fact]
    public async Task The_async_suite_reports_steps_per_second_by_staleness_bound_real_and_simulated()
    {
        _bench = GridProcess.Start("bench", _workFolder, new Dictionary<string, string?>(),
            "bench", "--suite", "async", "--preset", "smoke", "--steps", "3", "--staleness", "0,1", "--rollout-silos", "1,2",
            "--sim-steps", "3", "--sim-prompts", "4", "--gen-ms-per-token", "0.5", "--learner-ms-per-sample", "5",
            "--sim-tokens-per-completion", "20", "--output", "runs", "--json", "bench.json");

        int exit = await _bench.WaitForExitAsync(TimeSpan.FromMinutes(4), TestContext.Current.CancellationToken);

        Assert.True(exit == 0, _bench.Output);
        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(_workFolder, "bench.json"))).RootElement.GetProperty("async");
        var real = report.GetProperty("real");
        AssertRows(real.GetProperty("rows"), [(1, 0), (1, 1)]);
        Assert.Equal(1.5, real.GetProperty("target_steps_ratio").GetDouble());
        Assert.True(real.GetProperty("profile").GetProperty("generation_seconds_per_token").GetDouble() > 0);
        var simulated = report.GetProperty("simulated");
        AssertRows(simulated.GetProperty("rows"), [(1, 0), (1, 1), (2, 0), (2, 1)]);
        Assert.Equal(0.0005, simulated.GetProperty("cost").GetProperty("generation_seconds_per_token").GetDouble(), 9);
        Assert.True(File.Exists(Path.Combine(_workFolder, "async-throughput.png")), _bench.Output);
        Assert.Contains("k = 1 >= 1.5x k = 0 steps/s", _bench.Output);
        Assert.Contains("async GRPO-D, simulated", _bench.Output);
    }

    private static void AssertRows(JsonElement rows, (int Silos, int K)[] expected)
    {
        var all = rows.EnumerateArray().ToArray();
        Assert.Equal(expected, all.Select(r => (r.GetProperty("rollout_silos").GetInt32(), r.GetProperty("max_staleness").GetInt32())));
        foreach (var row in all)
        {
            Assert.True(row.GetProperty("steps_per_second").GetDouble() is > 0 and < 1000, row.ToString());
            Assert.True(row.GetProperty("tokens_per_second").GetDouble() > 0, row.ToString());
            Assert.True(row.GetProperty("steps_ratio").GetDouble() > 0, row.ToString());
            Assert.True(row.GetProperty("learner_idle_fraction").GetDouble() is >= 0 and <= 1, row.ToString());
            Assert.True(row.GetProperty("staleness_groups").EnumerateArray().Sum(g => g.GetInt32()) > 0, row.ToString());
        }

        Assert.All(all.Where(r => r.GetProperty("max_staleness").GetInt32() == 0), r => Assert.Equal(1, r.GetProperty("steps_ratio").GetDouble()));
    }

    public async ValueTask DisposeAsync()
    {
        if (_bench is not null)
        {
            await _bench.DisposeAsync();
        }

        Directory.Delete(_workFolder, recursive: true);
    }
}
