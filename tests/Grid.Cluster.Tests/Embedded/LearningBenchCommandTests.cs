using System.Text.Json;
using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Embedded;

/// <summary>`grid bench --suite learning`: grid train's own run, reported as the held-out gain per task (smoke-sized).</summary>
public sealed class LearningBenchCommandTests : IAsyncDisposable
{
    private readonly string _workFolder = Directory.CreateTempSubdirectory("grid-bench-learning-").FullName;
    private GridProcess? _bench;

    [Fact]
    public async Task The_learning_suite_reports_each_tasks_held_out_change_from_the_run_it_trained()
    {
        _bench = GridProcess.Start("bench", _workFolder, new Dictionary<string, string?>(),
            "bench", "--suite", "learning", "--preset", "smoke", "--set", "output_directory=\"runs\"", "--json", "bench.json");

        int exit = await _bench.WaitForExitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);

        Assert.True(exit == 0, _bench.Output);
        var learning = JsonDocument.Parse(File.ReadAllText(Path.Combine(_workFolder, "bench.json"))).RootElement.GetProperty("learning");
        string run = learning.GetProperty("run_folder").GetString()!;
        var start = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "eval-start.json"))).RootElement;
        var final = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "eval-final.json"))).RootElement;
        var tasks = learning.GetProperty("tasks").EnumerateArray().ToArray();
        Assert.Equal(["counting", "geometry"], tasks.Select(t => t.GetProperty("task").GetString()));
        foreach (var task in tasks)
        {
            string name = task.GetProperty("task").GetString()!;
            double before = Accuracy(start, name), after = Accuracy(final, name);
            Assert.Equal(before, task.GetProperty("accuracy_before").GetDouble());
            Assert.Equal(after, task.GetProperty("accuracy_after").GetDouble());
            Assert.Equal((after - before) * 100, task.GetProperty("gain_points").GetDouble(), 9);
            Assert.Equal(name == "geometry", task.GetProperty("trained").GetBoolean());
        }

        Assert.Equal(tasks.Single(t => t.GetProperty("trained").GetBoolean()).GetProperty("gain_points").GetDouble(),
            learning.GetProperty("gain_points").GetDouble());
        Assert.Contains("the +15 target", _bench.Output);
    }

    private static double Accuracy(JsonElement report, string task) => report.GetProperty("tasks").EnumerateArray()
        .Single(t => t.GetProperty("task").GetString() == task).GetProperty("accuracy").GetDouble();

    public async ValueTask DisposeAsync()
    {
        if (_bench is not null)
        {
            await _bench.DisposeAsync();
        }

        Directory.Delete(_workFolder, recursive: true);
    }
}
