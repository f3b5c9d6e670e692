using System.Diagnostics;
using System.Text.RegularExpressions;
using Grid.Telemetry.Reports;
using Grid.Telemetry.Tests.Support;

namespace Grid.Telemetry.Tests;

/// <summary>`grid train` as a process: it serves the run's metrics while it trains and leaves PNG plots in the run folder.</summary>
public sealed class TrainCommandMetricsTests : IAsyncDisposable
{
    private readonly GridProcesses _processes = new("grid-train-metrics-");

    [Fact]
    public async Task Grid_train_on_the_embedded_grid_serves_the_runs_metrics_and_writes_plots()
    {
        var (run, all, clock) = await TrainAsync([]);
        var seen = all[^1];

        // Labelled by the run id (the run folder's name), recorded by the embedded silo's learner grain.
        Assert.Equal(Path.GetFileName(run), seen.Where("grid_step").Select(s => s.Labels["run"]).Distinct().Single());
        // Placement lasts while the learner is active: the embedded silo deactivates it as the command shuts down.
        Assert.Contains(all, scrape => scrape.Where("grid_learner_placement").SingleOrDefault()?.Labels["device"] == "cpu");
        Assert.Contains("grid_silo_gpu_devices", seen.Names);
        Assert.Contains(seen.Names, name => name.StartsWith("orleans_", StringComparison.Ordinal));
        TestContext.Current.TestOutputHelper!.WriteLine($"grid train (embedded grid, 30 steps) took {clock:F1} s");
    }

    [Fact]
    public async Task Grid_train_in_process_serves_the_runs_metrics_and_writes_plots()
    {
        var (_, all, clock) = await TrainAsync(["--in-process"]);
        var seen = all[^1];

        // The in-process loop has no run id before its folder exists: its steps carry the run name.
        Assert.Equal("smoke", seen.Where("grid_step").Select(s => s.Labels["run"]).Distinct().Single());
        Assert.DoesNotContain(seen.Names, name => name.StartsWith("orleans_", StringComparison.Ordinal));
        TestContext.Current.TestOutputHelper!.WriteLine($"grid train --in-process (30 steps) took {clock:F1} s");
    }

    [Fact]
    public void Plots_of_steps_decode_as_pngs_of_the_documented_size()
    {
        var steps = Enumerable.Range(0, 12).Select(i => Steps.Report(step: i, beta: 0.04 / (i + 1))
            with
        { RewardMean = 0.1 + 0.05 * i, Accuracy = 0.04 * i, KlMean = 0.001 * i }).ToArray();

        var paths = RunPlots.Write(steps, Path.Combine(_processes.WorkFolder, "plots"));

        Assert.Equal(RunPlots.FileNames, paths.Select(p => Path.GetFileName(p)).ToArray());
        PlotFiles.AssertPlots(paths);
    }

    /// <summary>
    /// Runs `grid train --preset smoke` (30 steps) on its own metrics port, scraping /metrics every 100 ms while it
    /// trains; returns the run folder, the scrapes that had a step, and the seconds the command took.
    /// </summary>
    private async Task<(string RunFolder, IReadOnlyList<Scrape> Seen, double Seconds)> TrainAsync(string[] extra)
    {
        var cancellation = TestContext.Current.CancellationToken;
        int port = GridProcess.FreeLoopbackPort();
        var clock = Stopwatch.StartNew();
        var train = _processes.Start("train", new Dictionary<string, string?>(),
            ["train", "--preset", "smoke", "--set", "steps=30", "--output", "runs", "--metrics-port", port.ToString(), .. extra]);
        var endpoint = new Uri($"http://127.0.0.1:{port}/metrics");
        await train.WaitForOutputAsync($"metrics: {endpoint}", TimeSpan.FromSeconds(60), cancellation);

        var seen = new List<Scrape>();
        while (!train.HasExited)
        {
            try
            {
                var scrape = await Scrape.GetAsync(endpoint);
                if (scrape.Names.Contains("grid_step"))
                {
                    seen.Add(scrape);
                }
            }
            catch (HttpRequestException)
            {
                // the command is between its phases or shutting down
            }

            await Task.Delay(100, cancellation);
        }

        Assert.True(await train.WaitForExitAsync(TimeSpan.FromMinutes(3), cancellation) == 0, train.Output);
        Assert.True(seen.Count > 0, $"/metrics never showed a step while grid train ran:\n{train.Output}");
        var last = seen[^1];
        Assert.True(last.Value("grid_steps_total", ("run", last.Where("grid_step").First().Labels["run"])) is >= 1 and <= 30);

        string run = Assert.Single(Directory.GetDirectories(Path.Combine(_processes.WorkFolder, "runs")));
        Assert.Contains($"plots: {Path.Combine(run, RunPlots.Folder)}", Regex.Replace(train.Output, @"\s+", " "));
        PlotFiles.AssertPlots(RunPlots.FileNames.Select(f => Path.Combine(run, RunPlots.Folder, f)).ToArray());
        Assert.False(File.Exists(Path.Combine(run, RunPlots.Folder, RunPlots.ValidationFileName))); // smoke: no validation
        return (run, seen, clock.Elapsed.TotalSeconds);
    }

    public ValueTask DisposeAsync() => _processes.DisposeAsync();
}
