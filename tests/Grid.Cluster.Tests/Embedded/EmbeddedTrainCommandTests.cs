using System.Text.Json;
using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Embedded;

/// <summary>The README's main command, `grid train`, run as a real process on the embedded grid (smoke-sized).</summary>
public sealed class EmbeddedTrainCommandTests : IAsyncDisposable
{
    private readonly string _workFolder = Directory.CreateTempSubdirectory("grid-train-").FullName;
    private GridProcess? _train;

    [Fact]
    public async Task Grid_train_runs_sft_then_grpo_d_on_the_embedded_grid_and_writes_the_run_folder()
    {
        // A free metrics port rather than the default 9464: other tests' processes run at the same time.
        int metricsPort = GridProcess.FreeLoopbackPort();
        _train = GridProcess.Start("train", _workFolder, new Dictionary<string, string?>(),
            "train", "--preset", "smoke", "--output", "runs", "--metrics-port", metricsPort.ToString());

        int exit = await _train.WaitForExitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);

        Assert.True(exit == 0, _train.Output);
        string run = Assert.Single(Directory.GetDirectories(Path.Combine(_workFolder, "runs")));
        var steps = File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt64()).ToArray();
        Assert.Equal([0L, 1L, 2L], steps);
        foreach (string file in new[] { "settings.json", "sft.jsonl", "eval-start.json", "eval-final.json", "summary.json" })
        {
            Assert.True(File.Exists(Path.Combine(run, file)), $"{file} is missing from {run}");
        }

        Assert.True(File.Exists(Path.Combine(run, "checkpoints", "step-000003", "checkpoint.json")));
        Assert.Contains("geometry", _train.Output);
        Assert.Contains("wall time", _train.Output);
        Assert.Contains($"metrics: http://127.0.0.1:{metricsPort}/metrics", _train.Output);
        foreach (string plot in new[] { "reward", "accuracy", "kl", "beta" })
        {
            Assert.True(new FileInfo(Path.Combine(run, "plots", plot + ".png")).Length > 0, $"plots/{plot}.png is missing from {run}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_train is not null)
        {
            await _train.DisposeAsync();
        }

        Directory.Delete(_workFolder, recursive: true);
    }
}
