using System.Diagnostics;
using System.Text.Json;
using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Embedded;

/// <summary>
/// What a newcomer sees with the output redirected (a pipe or a log, as every process here is): lines meant to be copied
/// stay whole, tables are not broken at 80 columns, <c>grid status</c> and <c>grid eval</c> read a run folder, help
/// lists only the options a command takes, and benchmarks leave no run folders behind.
/// </summary>
public sealed class ConsoleOutputCommandTests : IAsyncDisposable
{
    /// <summary>An output folder whose name alone makes every path in the output longer than 80 columns.</summary>
    private const string LongOutput = "runs-in-a-folder-whose-name-makes-every-path-printed-longer-than-eighty-columns";

    private readonly GridProcesses _processes = new("grid-console-");

    private string Work => _processes.WorkFolder;

    [Fact]
    public async Task Redirected_train_sft_status_and_eval_print_whole_lines_and_read_the_run_folder()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var train = await RunAsync("train", cancellation, "train", "--preset", "smoke", "--output", LongOutput, "--metrics-port", "0");
        Assert.True(train.ExitCode == 0, train.Output);
        string run = Assert.Single(Directory.GetDirectories(Path.Combine(Work, LongOutput)));
        var lines = Lines(train.Output);
        Assert.Contains($"run folder: {run}", lines);
        Assert.Contains($"plots: {Path.Combine(run, "plots")} (reward.png, accuracy.png, kl.png, beta.png)", lines);
        AssertTablesWhole(train.Output);

        // Status of a finished run folder: from disk, no cluster, at once.
        var clock = Stopwatch.StartNew();
        var status = await RunAsync("status", cancellation, "status", run);
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"status took {clock.Elapsed.TotalSeconds:F0} s");
        Assert.Contains("finished", status.Output);
        Assert.Contains("3/3", status.Output);
        Assert.Contains(Path.GetFileName(run), status.Output);
        AssertTablesWhole(status.Output);

        // COLUMNS is the width of redirected output when it is set.
        var narrow = await RunAsync("status-narrow", cancellation, new Dictionary<string, string?> { ["COLUMNS"] = "60" }, "status", run);
        Assert.True(narrow.ExitCode == 0, narrow.Output);
        Assert.All(Lines(narrow.Output).Where(IsTableLine), line => Assert.True(line.Length <= 60, $"wider than COLUMNS=60: {line}"));

        // A run folder given to eval: its final checkpoint, named in full above the table, and the run's task in the JSON.
        string final = Path.Combine(run, "checkpoints", "step-000003");
        var eval = await RunAsync("eval-run", cancellation, "eval", run, "--prompts", "1", "-o", "eval.json");
        Assert.True(eval.ExitCode == 0, eval.Output);
        Assert.Contains($"run folder {run}: evaluating its final checkpoint {final}", Lines(eval.Output));
        Assert.Contains(Lines(eval.Output), line => line.StartsWith($"evaluation of {final} (greedy, held-out", StringComparison.Ordinal));
        Assert.Contains("geometry (trained)", eval.Output);
        Assert.Equal("geometry", TrainedTask(Path.Combine(Work, "eval.json")));

        // The warm start trained every task: no trained task.
        var evalSft = await RunAsync("eval-sft", cancellation, "eval", Path.Combine(run, "checkpoints", "sft"), "--prompts", "1", "-o", "sft.json");
        Assert.True(evalSft.ExitCode == 0, evalSft.Output);
        Assert.Null(TrainedTask(Path.Combine(Work, "sft.json")));

        // A missing path and a folder without a checkpoint are told apart.
        var missing = await RunAsync("eval-missing", cancellation, "eval", Path.Combine(Work, "no-such-folder"));
        Directory.CreateDirectory(Path.Combine(Work, "empty"));
        var empty = await RunAsync("eval-empty", cancellation, "eval", Path.Combine(Work, "empty"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Equal(2, empty.ExitCode);
        Assert.Contains("There is no checkpoint folder", missing.Output);
        Assert.Contains("holds no complete checkpoint", empty.Output);

        // The warm start alone: the command to copy is one line.
        var sft = await RunAsync("sft", cancellation, "sft", "--preset", "smoke", "--set", "sft.steps=1", "--set", "eval_prompts=1",
            "--output", LongOutput);
        Assert.True(sft.ExitCode == 0, sft.Output);
        string use = Assert.Single(Lines(sft.Output), line => line.StartsWith("use it with: ", StringComparison.Ordinal));
        string checkpoint = use["use it with: grid train --set init_checkpoint=".Length..];
        Assert.True(File.Exists(Path.Combine(checkpoint, "checkpoint.json")), use);
    }

    [Fact]
    public async Task Status_of_a_run_on_an_unreachable_cluster_is_one_error_line_within_its_timeout()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var clock = Stopwatch.StartNew();

        var status = await RunAsync("status", cancellation, "status", "no-such-run", "--gateway",
            GridProcess.FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.True(status.ExitCode == 2, status.Output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed.TotalSeconds:F0} s:\n{status.Output}");
        string error = Assert.Single(Lines(status.Output), line => line.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("'no-such-run' is not a run folder on this machine", error);
        Assert.Contains("within 10 s", error);
        Assert.DoesNotContain("   at ", status.Output);
    }

    [Fact]
    public async Task Help_lists_only_the_options_a_command_takes()
    {
        var cancellation = TestContext.Current.CancellationToken;

        var sft = await RunAsync("sft-help", cancellation, "sft", "--help");
        var bench = await RunAsync("bench-help", cancellation, "bench", "--help");

        Assert.True(sft.ExitCode == 0, sft.Output);
        Assert.DoesNotContain("--steps", sft.Output);
        Assert.DoesNotContain("--task", sft.Output);
        Assert.DoesNotContain("GRPO-D steps.", sft.Output);
        Assert.Contains("--seed", sft.Output);
        Assert.True(bench.ExitCode == 0, bench.Output);
        Assert.DoesNotContain("GRPO-D steps.", bench.Output);
        Assert.Contains("Learning suite: GRPO-D steps of its run", bench.Output);
    }

    [Fact]
    public async Task Benchmarks_leave_no_run_folders_behind_and_print_the_load_average()
    {
        var cancellation = TestContext.Current.CancellationToken;

        var tax = await RunAsync("grid-tax", cancellation, "bench", "--suite", "grid-tax", "--preset", "smoke", "--tax-steps", "1",
            "--rounds", "1", "--output", "runs");
        var policy = await RunAsync("policy", cancellation, "bench", "--suite", "policy", "--preset", "smoke", "--repeats", "1",
            "--output", "runs", "--json", "policy.json");

        Assert.True(tax.ExitCode == 0, tax.Output);
        Assert.True(policy.ExitCode == 0, policy.Output);
        string runs = Path.Combine(Work, "runs");
        Assert.Empty(Directory.Exists(runs) ? Directory.GetFileSystemEntries(runs) : []);
        Assert.Contains(Lines(policy.Output), line => line.StartsWith("load avg ", StringComparison.Ordinal));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Work, "policy.json")));
        Assert.True(json.RootElement.GetProperty("policy_load_average").GetProperty("before").GetDouble() >= 0);
        Assert.Contains(Lines(tax.Output), line => line.StartsWith("grid tax: ", StringComparison.Ordinal) && line.EndsWith("(target <= 1.10)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_silos_first_line_says_it_is_ready_without_orleans_start_up_warnings()
    {
        var cancellation = TestContext.Current.CancellationToken;
        int port = GridProcess.FreeLoopbackPort();
        var silo = _processes.Start("silo", new Dictionary<string, string?>(), "silo", "--cluster-id", "first-line-" + port,
            "--silo-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--gateway-port", "0",
            "--metrics-port", "0", "--weight-folder", Path.Combine(Work, "weights"));

        await silo.WaitForOutputAsync("grid silo ready", TimeSpan.FromSeconds(60), cancellation);

        // The watchdog warned that its participant check "has not completed for" the machine's uptime: a deadlock, to a newcomer.
        Assert.StartsWith("grid silo ready", silo.Output.TrimStart(), StringComparison.Ordinal);
        Assert.DoesNotContain("Participant check", silo.Output, StringComparison.Ordinal);
    }

    private static string? TrainedTask(string reportFile)
    {
        using var report = JsonDocument.Parse(File.ReadAllText(reportFile));
        var task = report.RootElement.GetProperty("trained_task");
        return task.ValueKind == JsonValueKind.Null ? null : task.GetString();
    }

    private static string[] Lines(string output) => output.Split('\n').Select(line => line.TrimEnd('\r')).ToArray();

    private static bool IsTableLine(string line) => line.Length > 0 && "┌│├└".Contains(line[0], StringComparison.Ordinal);

    /// <summary>Every table line closes on the line it opens: no cell was wrapped onto a line of its own.</summary>
    private static void AssertTablesWhole(string output) =>
        Assert.All(Lines(output).Where(IsTableLine), line => Assert.True("┐│┤┘".Contains(line.TrimEnd()[^1], StringComparison.Ordinal),
            $"a table line is broken: {line}"));

    private Task<GridProcess> RunAsync(string name, CancellationToken cancellation, params string[] arguments) =>
        RunAsync(name, cancellation, new Dictionary<string, string?>(), arguments);

    private async Task<GridProcess> RunAsync(string name, CancellationToken cancellation, Dictionary<string, string?> environment,
        params string[] arguments)
    {
        var process = _processes.Start(name, environment, arguments);
        await process.WaitForExitAsync(TimeSpan.FromMinutes(3), cancellation);
        return process;
    }

    public ValueTask DisposeAsync() => _processes.DisposeAsync();
}
