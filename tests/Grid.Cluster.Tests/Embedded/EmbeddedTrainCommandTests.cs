using System.Text.Json;
using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Embedded;

/// <summary>The README's main command, `grid train`, run as a real process on the embedded grid (smoke-sized).</summary>
public sealed class EmbeddedTrainCommandTests : IAsyncDisposable
{
    private readonly string _workFolder = Directory.CreateTempSubdirectory("grid-train-").FullName;
    private GridProcess? _train;
    private GridProcess? _status;

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

        // Weights are pruned as the run goes: version 1 left the newest two and is no checkpoint_every-th (2 in the
        // smoke preset), so its weights went with its learner checkpoint; 0 (the reference), 2 and 3 stay.
        string store = Assert.Single(Directory.GetDirectories(Path.Combine(run, "weights")));
        long[] versions = [.. Directory.GetFiles(store, "v*.bin").Select(f => long.Parse(Path.GetFileName(f)[1..13])).Order()];
        Assert.Equal([0L, 2L, 3L], versions);
        Assert.Contains("geometry", _train.Output);
        Assert.Contains("wall time", _train.Output);
        Assert.Contains($"metrics: http://127.0.0.1:{metricsPort}/metrics", _train.Output);
        foreach (string plot in new[] { "reward", "accuracy", "kl", "beta" })
        {
            Assert.True(new FileInfo(Path.Combine(run, "plots", plot + ".png")).Length > 0, $"plots/{plot}.png is missing from {run}");
        }
    }

    [Fact]
    public async Task A_run_whose_every_group_fails_finishes_with_its_updates_skipped_and_a_readable_run_folder()
    {
        // Every generation throws and is not retried: no group of any step is scored, so each step reports a skipped
        // update whose loss, entropy and gradient norm are NaN. Those used to reach the JSON writer and abort the run.
        _train = GridProcess.Start("train", _workFolder, new Dictionary<string, string?> { ["OMP_WAIT_POLICY"] = "PASSIVE" },
            "train", "--preset", "smoke", "--output", "runs", "--metrics-port", "0",
            "--set", "faults.generation_throw_share=1", "--set", "rollouts.max_attempts=1");

        int exit = await _train.WaitForExitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);

        Assert.True(exit == 0, _train.Output);
        Assert.DoesNotContain("Unhandled exception", _train.Output);
        Assert.Contains("SKIPPED: every group of step 0 failed", _train.Output);
        string run = Assert.Single(Directory.GetDirectories(Path.Combine(_workFolder, "runs")));
        var lines = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(line => JsonDocument.Parse(line).RootElement).ToArray();
        Assert.Equal([0L, 1L, 2L], lines.Select(l => l.GetProperty("step").GetInt64()));
        foreach (var line in lines)
        {
            Assert.True(line.GetProperty("update_skipped").GetBoolean());
            Assert.Equal($"every group of step {line.GetProperty("step").GetInt64()} failed", line.GetProperty("skip_reason").GetString());
            Assert.Equal(0, line.GetProperty("groups").GetInt32());
            Assert.Equal(JsonValueKind.Null, line.GetProperty("loss").ValueKind);
            Assert.Equal(JsonValueKind.Null, line.GetProperty("grad_norm").ValueKind);
            Assert.Equal(["loss", "entropy", "grad_norm"],
                line.GetProperty("non_finite_metrics").EnumerateArray().Select(e => e.GetString()));
        }

        foreach (string file in new[] { "settings.json", "eval-start.json", "eval-final.json", "summary.json" })
        {
            using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, file)));
            Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        }

        Assert.All(File.ReadAllLines(Path.Combine(run, "sft.jsonl")),
            line => Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(line).RootElement.ValueKind));

        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json"))))
        {
            Assert.Equal(3, summary.RootElement.GetProperty("steps_completed").GetInt64());
            Assert.Equal(3, summary.RootElement.GetProperty("updates_skipped").GetInt64());
        }

        Assert.True(File.Exists(Path.Combine(run, "checkpoints", "step-000003", "checkpoint.json")));
        foreach (string plot in new[] { "reward", "accuracy", "kl", "beta" })
        {
            Assert.True(new FileInfo(Path.Combine(run, "plots", plot + ".png")).Length > 0, $"plots/{plot}.png is missing from {run}");
        }

        _status = GridProcess.Start("status", _workFolder, new Dictionary<string, string?>(), "status", run);
        Assert.True(await _status.WaitForExitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken) == 0, _status.Output);
        Assert.Contains("every group of step 2 failed", _status.Output);
        Assert.Contains("3/3", _status.Output);
    }

    public async ValueTask DisposeAsync()
    {
        if (_train is not null)
        {
            await _train.DisposeAsync();
        }

        if (_status is not null)
        {
            await _status.DisposeAsync();
        }

        Directory.Delete(_workFolder, recursive: true);
    }
}
