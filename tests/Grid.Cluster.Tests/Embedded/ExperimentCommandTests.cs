using System.Diagnostics;
using System.Text.Json;
using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Embedded;

/// <summary>`grid experiment` as a process on a tiny study (smoke model, 2 arms, 1 task, 1 seed, 3 steps).</summary>
public sealed class ExperimentCommandTests : IAsyncDisposable
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private readonly GridProcesses _processes = new("grid-experiment-");

    [Fact]
    public async Task A_tiny_study_writes_results_md_experiment_json_a_chart_and_a_readable_run_folder_per_arm()
    {
        var clock = Stopwatch.StartNew();
        var experiment = await RunAsync("experiment", "--preset", "smoke", "--arms", "sft,grpo-d", "--tasks", "counting",
            "--seeds", "1", "--steps", "3", "--output", "experiments", "--name", "tiny");
        double seconds = clock.Elapsed.TotalSeconds;

        Assert.True(experiment.ExitCode == 0, experiment.Output);
        string folder = Assert.Single(Directory.GetDirectories(Path.Combine(_processes.WorkFolder, "experiments")));
        Assert.StartsWith("tiny-", Path.GetFileName(folder));

        string md = File.ReadAllText(Path.Combine(folder, "results.md"));
        Assert.Contains("| arm | trained counting -> eval counting |", md);
        Assert.Contains("| arm | trained counting -> eval geometry |", md);
        Assert.Contains("| sft | ", md);
        Assert.Contains("| grpo-d | ", md);
        Assert.Contains("held-out stream", md);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "experiment.json")));
        var root = json.RootElement;
        Assert.Equal(["sft", "grpo-d"], root.GetProperty("arms").EnumerateArray().Select(a => a.GetString()));
        var runs = root.GetProperty("runs").EnumerateArray().ToArray();
        var cells = root.GetProperty("cells").EnumerateArray().ToArray();
        Assert.Equal(4, cells.Length); // 2 arms x trained on counting x evaluated on counting and geometry
        foreach (var cell in cells)
        {
            // Each cell is its arm's one run, as that run's folder recorded its final evaluation.
            var run = runs.Single(r => r.GetProperty("arm").GetString() == cell.GetProperty("arm").GetString());
            string evalTask = cell.GetProperty("eval_task").GetString()!;
            double accuracy = FinalAccuracy(Path.Combine(folder, run.GetProperty("run_folder").GetString()!), evalTask);
            Assert.Equal(1, cell.GetProperty("n").GetInt32());
            Assert.Equal(accuracy, Assert.Single(cell.GetProperty("values").EnumerateArray()).GetDouble());
            Assert.Equal(accuracy, cell.GetProperty("mean").GetDouble());
        }

        var basePolicy = root.GetProperty("base");
        using (var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(basePolicy.GetProperty("checkpoint").GetString()!, "checkpoint.json"))))
        {
            Assert.Equal(manifest.RootElement.GetProperty("WeightsSha256").GetString(), basePolicy.GetProperty("sha256").GetString());
        }

        string grpoD = Path.Combine(folder, runs.Single(r => r.GetProperty("arm").GetString() == "grpo-d").GetProperty("run_folder").GetString()!);
        string sft = Path.Combine(folder, runs.Single(r => r.GetProperty("arm").GetString() == "sft").GetProperty("run_folder").GetString()!);
        long tokens = File.ReadLines(Path.Combine(grpoD, "metrics.jsonl"))
            .Sum(line => JsonDocument.Parse(line).RootElement.GetProperty("tokens_generated").GetInt64());
        var compute = root.GetProperty("compute").EnumerateArray().Single(c => c.GetProperty("arm").GetString() == "grpo-d");
        Assert.True(tokens > 0);
        Assert.Equal(tokens, compute.GetProperty("tokens_generated").GetInt64());

        byte[] png = File.ReadAllBytes(Path.Combine(folder, "accuracy.png"));
        Assert.True(png.Length > 1000, $"accuracy.png has {png.Length} bytes");
        Assert.Equal(PngSignature, png.Take(8));
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));

        string[] runFolders = Directory.GetDirectories(Path.Combine(folder, "runs"));
        Assert.Equal(3, runFolders.Length); // the base's warm start, sft, grpo-d
        foreach (string run in runFolders)
        {
            foreach (string file in new[] { "settings.json", "eval-final.json", "summary.json" })
            {
                Assert.True(File.Exists(Path.Combine(run, file)), $"{file} is missing from {run}");
            }

            Assert.True(Directory.Exists(Path.Combine(run, "checkpoints")), $"{run} has no checkpoints");
        }

        Assert.True(File.Exists(Path.Combine(sft, "sft.jsonl")));
        Assert.Equal(3, File.ReadLines(Path.Combine(grpoD, "metrics.jsonl")).Count());

        var grpoDStatus = await RunAsync("status", grpoD);
        Assert.True(grpoDStatus.ExitCode == 0, grpoDStatus.Output);
        Assert.Contains("GRPO, kl dynamic 0.04 to 0.1", grpoDStatus.Output);
        Assert.Contains("beta", grpoDStatus.Output);
        Assert.Contains("0.07", grpoDStatus.Output); // the schedule's first beta: (0.04 + 0.1) / 2
        Assert.Contains("final", grpoDStatus.Output);
        var sftStatus = await RunAsync("status", sft);
        Assert.True(sftStatus.ExitCode == 0, sftStatus.Output);
        Assert.Contains("SFT, batch 4", sftStatus.Output);
        TestContext.Current.TestOutputHelper!.WriteLine($"grid experiment (tiny) took {seconds:F1} s\n{experiment.Output}");
    }

    [Fact]
    public async Task A_tiny_study_on_an_own_dataset_trains_and_evaluates_every_arm_on_it()
    {
        using var data = new Grid.Training.Tests.OwnData.ColourDataset(count: 80);
        var clock = Stopwatch.StartNew();
        var experiment = await RunAsync("experiment", "--preset", "smoke", "--arms", "sft,grpo-d", "--seeds", "1",
            "--steps", "3", "--output", "experiments", "--name", "own", "--set", $"data.train={JsonSerializer.Serialize(data.Jsonl)}",
            "--set", "data.answer_kind=choice", "--set", "data.eval_fraction=0.25", "--set", "eval_prompts=200");
        double seconds = clock.Elapsed.TotalSeconds;

        Assert.True(experiment.ExitCode == 0, experiment.Output);
        string folder = Assert.Single(Directory.GetDirectories(Path.Combine(_processes.WorkFolder, "experiments")));
        string md = File.ReadAllText(Path.Combine(folder, "results.md"));
        Assert.Contains("| arm | trained custom -> eval custom |", md); // the dataset's task, not the built-in ones
        Assert.DoesNotContain("counting", md);
        Assert.Contains("the dataset's eval part", md);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "experiment.json")));
        var root = json.RootElement;
        Assert.Equal(["custom"], root.GetProperty("tasks").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(["custom"], root.GetProperty("eval_tasks").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(2, root.GetProperty("cells").GetArrayLength());
        var runs = root.GetProperty("runs").EnumerateArray().ToArray();
        var accuracies = new List<string>();
        foreach (string run in Directory.GetDirectories(Path.Combine(folder, "runs")))
        {
            // Every run (the base's warm start, sft, grpo-d) is evaluated on the dataset's eval split, all of it.
            using var eval = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "eval-final.json")));
            var task = Assert.Single(eval.RootElement.GetProperty("tasks").EnumerateArray());
            Assert.Equal("custom", task.GetProperty("task").GetString());
            Assert.InRange(task.GetProperty("prompts").GetInt32(), 10, 40);
            accuracies.Add($"{Path.GetFileName(run)} {task.GetProperty("accuracy").GetDouble():P1}");
        }

        Assert.Equal(3, accuracies.Count);
        string grpoD = Path.Combine(folder, runs.Single(r => r.GetProperty("arm").GetString() == "grpo-d").GetProperty("run_folder").GetString()!);
        Assert.Equal(3, File.ReadLines(Path.Combine(grpoD, "metrics.jsonl")).Count());
        TestContext.Current.TestOutputHelper!.WriteLine(
            $"grid experiment on own data took {seconds:F1} s; final accuracy (chance 25%): {string.Join(", ", accuracies)}");
    }

    [Fact]
    public async Task A_study_on_an_own_dataset_refuses_tasks_with_the_fix()
    {
        using var data = new Grid.Training.Tests.OwnData.ColourDataset(count: 8);
        var experiment = await RunAsync("experiment", "--preset", "smoke", "--tasks", "counting",
            "--set", $"data.train={JsonSerializer.Serialize(data.Jsonl)}", "--set", "data.answer_kind=choice");

        Assert.True(experiment.ExitCode == 2, experiment.Output);
        Assert.Contains("tasks", experiment.Output);
        Assert.Contains("data.train", experiment.Output);
        Assert.False(Directory.Exists(Path.Combine(_processes.WorkFolder, "experiments")));
    }

    [Theory]
    [InlineData("--arms", "sft,grpo-x", "grpo-x")]
    [InlineData("--tasks", "counting,chess", "chess")]
    [InlineData("--seeds", "0", "seeds = 0")]
    [InlineData("--budget", "medium", "medium")]
    [InlineData("--base", "no-such-checkpoint", "no-such-checkpoint")]
    public async Task Bad_input_is_refused_with_the_value_and_the_fix_and_no_stack_trace(string option, string value, string named)
    {
        var experiment = await RunAsync("experiment", "--preset", "smoke", option, value);

        Assert.True(experiment.ExitCode == 2, experiment.Output);
        Assert.Contains("error:", experiment.Output);
        Assert.Contains(named, experiment.Output);
        Assert.Contains("must be", experiment.Output);
        Assert.DoesNotContain("   at ", experiment.Output);
        Assert.False(Directory.Exists(Path.Combine(_processes.WorkFolder, "experiments")));
    }

    [Fact]
    public async Task A_base_checkpoint_of_another_model_than_the_settings_give_is_refused_before_anything_trains()
    {
        var sft = await RunAsync("sft", "--preset", "smoke", "--output", "runs");
        Assert.True(sft.ExitCode == 0, sft.Output);
        string checkpoint = Path.Combine(Assert.Single(Directory.GetDirectories(Path.Combine(_processes.WorkFolder, "runs"))),
            "checkpoints", "sft");

        var experiment = await RunAsync("experiment", "--preset", "demo", "--base", checkpoint);

        Assert.True(experiment.ExitCode == 2, experiment.Output);
        Assert.Contains("Invalid setting base", experiment.Output);
        Assert.Contains("model", experiment.Output);
        Assert.DoesNotContain("   at ", experiment.Output);
        Assert.False(Directory.Exists(Path.Combine(_processes.WorkFolder, "experiments")));
    }

    private async Task<(int ExitCode, string Output)> RunAsync(params string[] arguments)
    {
        var process = _processes.Start(arguments[0], new Dictionary<string, string?>(), arguments);
        int exit = await process.WaitForExitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
        return (exit, process.Output);
    }

    private static double FinalAccuracy(string runFolder, string task)
    {
        using var eval = JsonDocument.Parse(File.ReadAllText(Path.Combine(runFolder, "eval-final.json")));
        return eval.RootElement.GetProperty("tasks").EnumerateArray()
            .Single(t => t.GetProperty("task").GetString() == task).GetProperty("accuracy").GetDouble();
    }

    public ValueTask DisposeAsync() => _processes.DisposeAsync();
}
