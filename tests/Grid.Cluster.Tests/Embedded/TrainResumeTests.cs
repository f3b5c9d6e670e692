using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Grid.Cluster.Tests.Embedded;

/// <summary>
/// `grid train` on the embedded grid interrupted as it happens to a user (kill -9, Ctrl+C, SIGTERM, a full disk) at a
/// random step, then resumed from its run folder: the resumed run records exactly the metrics of an uninterrupted run of
/// the same seed (every field but timings and memory), with the smoke model on a settings mix whose losses, KL and
/// adaptive beta are non-zero and depend on the run's history.
/// </summary>
public sealed class TrainResumeTests(TrainResumeTests.UninterruptedRun reference, ITestOutputHelper output)
    : IClassFixture<TrainResumeTests.UninterruptedRun>, IAsyncDisposable
{
    private const int Steps = 12;

    /// <summary>Fields of a metrics.jsonl line that measure the machine, not the training: they differ run to run.</summary>
    private static readonly string[] MachineFields = ["learner_idle_fraction", "process_rss_bytes"];

    private static readonly string[] Settings =
    [
        "--preset", "smoke", "--steps", Steps.ToString(), "--seed", "7", "--metrics-port", "0",
        "--set", "sft.steps=40", "--set", "sft.learning_rate=0.01", "--set", "learning_rate=0.003",
        "--set", "kl.kind=adaptive", "--set", "kl.horizon=20", "--set", "kl.target_kl=0.001",
    ];

    private readonly GridProcesses _processes = new("grid-resume-");

    [Fact]
    public async Task A_run_killed_with_sigkill_at_a_random_step_resumes_and_records_what_an_uninterrupted_run_records()
    {
        int killAt = Random.Shared.Next(1, Steps - 1);
        var train = Train("train");
        string run = await WaitForStepsAsync(train, killAt);
        train.Signal(9);
        await train.WaitForExitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        var clock = Stopwatch.StartNew();
        var resume = _processes.Start("resume", Environment(), "train", "--resume", run, "--metrics-port", "0");
        await resume.WaitForOutputAsync("resuming", TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        double secondsToResume = clock.Elapsed.TotalSeconds;
        Assert.Equal(0, await resume.WaitForExitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken));

        output.WriteLine($"killed after {killAt} steps; resumed at step {ResumedStep(resume.Output)} {secondsToResume:F1} s after the resume command started");
        AssertSameTraining(run);
        Assert.True(File.Exists(Path.Combine(run, "eval-final.json")), resume.Output);
    }

    [Theory]
    [InlineData(2, 130)]
    [InlineData(15, 143)]
    public async Task A_stop_signal_keeps_the_run_prints_one_line_with_the_resume_command_and_grid_resume_finishes_it(
        int signal, int expectedExit)
    {
        int stopAt = Random.Shared.Next(1, Steps - 1);
        var train = Train("train");
        string run = await WaitForStepsAsync(train, stopAt);
        var clock = Stopwatch.StartNew();
        train.Signal(signal);
        int exit = await train.WaitForExitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        double secondsToStop = clock.Elapsed.TotalSeconds;

        Assert.True(exit == expectedExit, train.Output);
        AssertNoStackTrace(train.Output);
        string last = train.Output.TrimEnd().Split('\n')[^1];
        Assert.Contains($"resume with: grid train --resume {run}", last);
        Assert.Matches(@"^stopped at step \d+/12: kept ", last);
        output.WriteLine($"signal {signal} after {stopAt} steps: exit {exit} in {secondsToStop:F1} s; {last}");

        var resume = _processes.Start("resume", Environment(), "resume", run);
        Assert.True(await resume.WaitForExitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken) == 0, resume.Output);
        AssertSameTraining(run);
    }

    [Fact]
    public async Task A_run_killed_during_its_warm_start_starts_the_warm_start_again_in_its_folder()
    {
        var train = Train("train");
        string run = await WaitForFolderAsync(train, "sft.jsonl", lines: Random.Shared.Next(1, 30));
        train.Signal(9);
        await train.WaitForExitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        var resume = _processes.Start("resume", Environment(), "train", "--resume", run, "--metrics-port", "0");
        Assert.True(await resume.WaitForExitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken) == 0, resume.Output);
        Assert.Contains("the warm start, from its first step", resume.Output);
        Assert.Equal(File.ReadAllLines(Path.Combine(reference.Folder, "sft.jsonl")), File.ReadAllLines(Path.Combine(run, "sft.jsonl")));
        AssertSameTraining(run);
    }

    [Fact]
    public async Task Out_of_disk_is_one_error_line_that_keeps_the_newest_checkpoint_and_the_run_resumes_once_there_is_room()
    {
        // A real full file system: a 3 MiB tmpfs as the output folder (the smoke run folder needs about 7 MB).
        string disk = Path.Combine(_processes.WorkFolder, "disk");
        Directory.CreateDirectory(disk);
        string? unavailable = await MountAsync("-t", "tmpfs", "-o", "size=3m", "tmpfs", disk);
        Assert.SkipWhen(unavailable is not null, $"cannot mount a tmpfs here ({unavailable}); this test needs root or CAP_SYS_ADMIN");
        try
        {
            var train = _processes.Start("train", Environment(), ["train", .. Settings, "--output", disk]);
            int exit = await train.WaitForExitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);

            Assert.True(exit == 1, train.Output);
            AssertNoStackTrace(train.Output);
            string run = Directory.GetDirectories(disk).Single();
            string error = Assert.Single(train.Output.Split('\n'), line => line.StartsWith("error:", StringComparison.Ordinal));
            Assert.Contains($"no space left for {run}", error);
            Assert.Matches(@"needs about .*\(\d[\d,]* bytes\) and its file system has [\d,.]+ .*free", error);
            Assert.Contains($"resume with: grid train --resume {run}", error);
            output.WriteLine(error);

            // Every checkpoint the run calls complete (its checkpoint.json, written last, exists) holds the recorded weights.
            var complete = Directory.GetDirectories(Path.Combine(run, "checkpoints"))
                .Where(c => File.Exists(Path.Combine(c, "checkpoint.json"))).ToArray();
            Assert.NotEmpty(complete);
            foreach (string checkpoint in complete)
            {
                using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "checkpoint.json")));
                string sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
                    File.ReadAllBytes(Path.Combine(checkpoint, "model.safetensors"))));
                Assert.Equal(manifest.RootElement.GetProperty("WeightsSha256").GetString(), sha256);
            }

            Assert.Null(await MountAsync("-o", "remount,size=64m", disk));
            var resume = _processes.Start("resume", Environment(), "train", "--resume", run, "--metrics-port", "0");
            Assert.True(await resume.WaitForExitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken) == 0, resume.Output);
            AssertSameTraining(run);
        }
        finally
        {
            await _processes.DisposeProcessesAsync();
            await MountAsync("umount", disk);
        }
    }

    [Fact]
    public async Task A_second_ctrl_c_stops_at_once_without_a_stack_trace()
    {
        var train = Train("train");
        await WaitForStepsAsync(train, 1);
        train.Signal(2);
        train.Signal(2);
        int exit = await train.WaitForExitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.True(exit == 130, train.Output);
        AssertNoStackTrace(train.Output);
    }

    [Fact]
    public async Task Resuming_a_finished_run_says_so_and_changes_nothing()
    {
        string metrics = File.ReadAllText(Path.Combine(reference.Folder, "metrics.jsonl"));
        var resume = _processes.Start("resume", Environment(), "resume", reference.Folder);

        Assert.Equal(0, await resume.WaitForExitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken));
        Assert.Contains("nothing to resume", resume.Output);
        Assert.Equal(metrics, File.ReadAllText(Path.Combine(reference.Folder, "metrics.jsonl")));
    }

    public ValueTask DisposeAsync() => _processes.DisposeAsync();

    internal static IReadOnlyDictionary<string, string?> Environment() => new Dictionary<string, string?>();

    /// <summary>Asserts that no line of <paramref name="text"/> is a .NET stack frame or an unhandled-exception header.</summary>
    internal static void AssertNoStackTrace(string text)
    {
        Assert.DoesNotContain("Unhandled exception", text);
        Assert.DoesNotContain(text.Split('\n'), line => line.StartsWith("   at ", StringComparison.Ordinal));
    }

    /// <summary>The run's metrics.jsonl equals the uninterrupted run's, line by line, except timings and memory.</summary>
    private void AssertSameTraining(string run)
    {
        var expected = Lines(reference.Folder);
        var actual = Lines(run);
        Assert.Equal(Steps, actual.Length);
        for (int step = 0; step < Steps; step++)
        {
            Assert.Equal(expected[step], actual[step]);
        }
    }

    private static string[] Lines(string run) => [.. File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(line =>
    {
        var node = JsonNode.Parse(line)!.AsObject();
        foreach (string key in node.Select(p => p.Key).Where(k => k.StartsWith("seconds_", StringComparison.Ordinal) || MachineFields.Contains(k)).ToArray())
        {
            node.Remove(key);
        }

        return node.ToJsonString();
    })];

    /// <summary>Runs mount (or umount, given as the first argument); null when it worked, else what it said.</summary>
    private static async Task<string?> MountAsync(params string[] arguments)
    {
        bool unmount = arguments[0] == "umount";
        var start = new ProcessStartInfo(unmount ? "umount" : "mount") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in unmount ? arguments[1..] : arguments)
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using var process = Process.Start(start)!;
            string error = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return process.ExitCode == 0 ? null : $"{start.FileName} exited {process.ExitCode}: {error.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return e.Message;
        }
    }

    private static long ResumedStep(string output) =>
        long.Parse(System.Text.RegularExpressions.Regex.Match(output, @"resuming .* at step (\d+)/").Groups[1].Value);

    private GridProcess Train(string name) => _processes.Start(name, Environment(), ["train", .. Settings, "--output", "runs"]);

    private Task<string> WaitForStepsAsync(GridProcess train, int steps) => WaitForFolderAsync(train, "metrics.jsonl", steps);

    /// <summary>The run folder, once its <paramref name="file"/> has <paramref name="lines"/> lines.</summary>
    private async Task<string> WaitForFolderAsync(GridProcess train, string file, int lines)
    {
        var clock = Stopwatch.StartNew();
        string runs = Path.Combine(_processes.WorkFolder, "runs");
        while (true)
        {
            string? run = Directory.Exists(runs) ? Directory.GetDirectories(runs).SingleOrDefault() : null;
            string path = run is null ? "" : Path.Combine(run, file);
            if (run is not null && File.Exists(path) && File.ReadAllLines(path).Length >= lines)
            {
                return run;
            }

            Assert.False(train.HasExited, $"grid train exited before {file} had {lines} lines:\n{train.Output}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"{file} did not reach {lines} lines:\n{train.Output}");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>The same run, never interrupted: what every interrupted-and-resumed run must record.</summary>
    public sealed class UninterruptedRun : IAsyncLifetime
    {
        private readonly GridProcesses _processes = new("grid-uninterrupted-");

        public string Folder { get; private set; } = "";

        public async ValueTask InitializeAsync()
        {
            var train = _processes.Start("uninterrupted", Environment(), ["train", .. Settings, "--output", "runs"]);
            int exit = await train.WaitForExitAsync(TimeSpan.FromMinutes(3), CancellationToken.None);
            Assert.True(exit == 0, train.Output);
            Folder = Directory.GetDirectories(Path.Combine(_processes.WorkFolder, "runs")).Single();
            Assert.Equal(Steps, File.ReadAllLines(Path.Combine(Folder, "metrics.jsonl")).Length);
        }

        public ValueTask DisposeAsync() => _processes.DisposeAsync();
    }
}
