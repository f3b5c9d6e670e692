using System.Diagnostics;

namespace Grid.Cluster.Tests.Embedded;

/// <summary>
/// Every command that works for a while (train, sft, eval, experiment; tiny settings) stopped with SIGINT or SIGTERM at
/// a random moment, from its start-up to its last line: it exits with a documented code (0 when it had finished, 130
/// after SIGINT, 143 after SIGTERM) and prints no stack trace, whatever the signal interrupted.
/// </summary>
public sealed class StopSignalTests(ITestOutputHelper output) : IAsyncDisposable
{
    private readonly GridProcesses _processes = new("grid-signal-");

    public static TheoryData<string, int> Cases()
    {
        var cases = new TheoryData<string, int>();
        foreach (string command in new[] { "train", "sft", "eval", "experiment" })
        {
            cases.Add(command, 2);
            cases.Add(command, 15);
        }

        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_command_stopped_by_a_signal_at_a_random_moment_exits_with_its_code_and_no_stack_trace(string command, int signal)
    {
        string[] arguments = command switch
        {
            "train" => ["train", "--preset", "smoke", "--steps", "20", "--output", "runs", "--metrics-port", "0"],
            "sft" => ["sft", "--preset", "smoke", "--set", "sft.steps=300", "--output", "runs"],
            "eval" => ["eval", await CheckpointAsync(), "--prompts", "200"],
            _ => ["experiment", "--preset", "smoke", "--arms", "sft,grpo-d", "--tasks", "counting", "--seeds", "1",
                "--steps", "6", "--output", "experiments", "--name", "tiny"],
        };
        var process = _processes.Start(command, new Dictionary<string, string?>(), arguments);
        var delay = TimeSpan.FromMilliseconds(Random.Shared.Next(200, 9000));
        await Task.Delay(delay, TestContext.Current.CancellationToken);
        bool running = !process.HasExited;
        var clock = Stopwatch.StartNew();
        if (running)
        {
            process.Signal(signal);
        }

        int exit = await process.WaitForExitAsync(TimeSpan.FromSeconds(45), TestContext.Current.CancellationToken);

        output.WriteLine($"grid {command}: signal {signal} after {delay.TotalSeconds:F1} s ({(running ? "running" : "already exited")}); "
            + $"exit {exit} {clock.Elapsed.TotalSeconds:F1} s later; last line: {process.Output.TrimEnd().Split('\n')[^1]}");
        TrainResumeTests.AssertNoStackTrace(process.Output);
        Assert.True(exit == 0 || exit == 128 + signal, $"exit {exit}:\n{process.Output}");
    }

    public ValueTask DisposeAsync() => _processes.DisposeAsync();

    /// <summary>A smoke warm start's checkpoint for grid eval.</summary>
    private async Task<string> CheckpointAsync()
    {
        var sft = _processes.Start("sft", new Dictionary<string, string?>(), "sft", "--preset", "smoke", "--output", "base");
        Assert.True(await sft.WaitForExitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken) == 0, sft.Output);
        return Path.Combine(Directory.GetDirectories(Path.Combine(_processes.WorkFolder, "base")).Single(), "checkpoints", "sft");
    }
}
