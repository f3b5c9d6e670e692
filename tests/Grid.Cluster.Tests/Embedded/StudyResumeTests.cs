using System.Diagnostics;
using System.Text.Json;

namespace Grid.Cluster.Tests.Embedded;

/// <summary>`grid experiment` and `grid sft` killed with SIGKILL at a random point and resumed from their folders.</summary>
public sealed class StudyResumeTests(ITestOutputHelper output) : IAsyncDisposable
{
    private readonly GridProcesses _processes = new("grid-study-resume-");

    [Fact]
    public async Task A_study_killed_in_its_rl_arm_resumes_there_keeping_its_finished_runs()
    {
        const int steps = 8;
        var study = _processes.Start("experiment", new Dictionary<string, string?>(), "experiment", "--preset", "smoke",
            "--arms", "sft,grpo-d", "--tasks", "counting", "--seeds", "1", "--steps", steps.ToString(), "--output",
            "experiments", "--name", "tiny");
        int killAt = Random.Shared.Next(1, steps - 1);
        string experiments = Path.Combine(_processes.WorkFolder, "experiments");
        var clock = Stopwatch.StartNew();
        string? grpo = null;
        while (grpo is null || !File.Exists(Path.Combine(grpo, "metrics.jsonl"))
               || File.ReadAllLines(Path.Combine(grpo, "metrics.jsonl")).Length < killAt)
        {
            Assert.False(study.HasExited, study.Output);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), study.Output);
            await Task.Delay(20, TestContext.Current.CancellationToken);
            grpo = Directory.Exists(experiments)
                ? Directory.GetDirectories(experiments).SelectMany(e => Directory.GetDirectories(Path.Combine(e, "runs"), "grpo-d-*"))
                    .SingleOrDefault()
                : null;
        }

        study.Signal(9);
        await study.WaitForExitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        string folder = Directory.GetDirectories(experiments).Single();
        string runs = Path.Combine(folder, "runs");
        var before = Directory.GetDirectories(runs).Where(d => !d.Contains("grpo-d-", StringComparison.Ordinal))
            .ToDictionary(d => d, d => File.GetLastWriteTimeUtc(Path.Combine(d, "summary.json")));

        var resume = _processes.Start("resume", new Dictionary<string, string?>(), "experiment", "--resume", folder);
        Assert.True(await resume.WaitForExitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken) == 0, resume.Output);

        output.WriteLine($"killed after {killAt} GRPO-D steps of the grpo-d arm");
        Assert.Equal(3, Directory.GetDirectories(runs).Length); // base, sft and grpo-d: no run started over in a new folder
        foreach (var (run, written) in before)
        {
            Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(run, "summary.json"))); // reused, not rerun
        }

        Assert.Contains($"resuming {grpo} at step ", resume.Output);
        Assert.Equal(Enumerable.Range(0, steps).Select(s => (long)s), File.ReadAllLines(Path.Combine(grpo, "metrics.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt64()));
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "experiment.json")));
        Assert.Equal(2, results.RootElement.GetProperty("runs").GetArrayLength()); // the arms: sft and grpo-d
    }

    [Fact]
    public async Task A_warm_start_killed_midway_finishes_in_its_folder_with_the_losses_of_an_uninterrupted_one()
    {
        string[] settings = ["sft", "--preset", "smoke", "--set", "sft.steps=200"];
        var interrupted = _processes.Start("sft", new Dictionary<string, string?>(), [.. settings, "--output", "runs"]);
        int killAt = Random.Shared.Next(1, 150);
        string runs = Path.Combine(_processes.WorkFolder, "runs");
        string? run = null;
        while (run is null || !File.Exists(Path.Combine(run, "sft.jsonl")) || File.ReadAllLines(Path.Combine(run, "sft.jsonl")).Length < killAt)
        {
            Assert.False(interrupted.HasExited, interrupted.Output);
            await Task.Delay(10, TestContext.Current.CancellationToken);
            run = Directory.Exists(runs) ? Directory.GetDirectories(runs).SingleOrDefault() : null;
        }

        interrupted.Signal(9);
        await interrupted.WaitForExitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        var resume = _processes.Start("resume", new Dictionary<string, string?>(), "sft", "--resume", run);
        Assert.True(await resume.WaitForExitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken) == 0, resume.Output);
        var reference = _processes.Start("reference", new Dictionary<string, string?>(), [.. settings, "--output", "reference"]);
        Assert.True(await reference.WaitForExitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken) == 0, reference.Output);

        string expected = Directory.GetDirectories(Path.Combine(_processes.WorkFolder, "reference")).Single();
        Assert.Equal(File.ReadAllLines(Path.Combine(expected, "sft.jsonl")), File.ReadAllLines(Path.Combine(run, "sft.jsonl")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(expected, "checkpoints", "sft", "model.safetensors")),
            File.ReadAllBytes(Path.Combine(run, "checkpoints", "sft", "model.safetensors")));
        Assert.Contains($"checkpoint: {Path.Combine(run, "checkpoints", "sft")}", resume.Output);
    }

    public ValueTask DisposeAsync() => _processes.DisposeAsync();
}
