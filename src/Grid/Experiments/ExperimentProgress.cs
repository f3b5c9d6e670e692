using System.Diagnostics;
using Grid.Training;
using Grid.Training.Experiments;

namespace Grid.Cli.Experiments;

/// <summary>
/// A study's progress on the console: a line as each run starts (which arm, task and seed, elapsed time, the expected
/// remaining time) and one as it finishes (its held-out accuracies and wall time).
/// </summary>
internal sealed class ExperimentProgress(IReadOnlyList<ArmRun> plan, int seeds)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ExperimentEta _eta = new();
    private readonly HashSet<ArmRun> _done = [];
    private readonly Dictionary<ArmRun, double> _started = [];

    public TimeSpan Elapsed => _clock.Elapsed;

    public void Starting(ArmRun run)
    {
        _started[run] = _clock.Elapsed.TotalSeconds;
        int index = plan.ToList().IndexOf(run) + 1;
        var remaining = _eta.Remaining(plan.Where(r => !_done.Contains(r)));
        Console.WriteLine($"[{index}/{plan.Count}] {run.Label(seeds)} | elapsed {Format(_clock.Elapsed)} | "
            + $"ETA {Format(remaining)} (about {Format(_clock.Elapsed + remaining)} in all)");
    }

    public void Finished(ArmRun run, TrainingResult result)
    {
        double seconds = _clock.Elapsed.TotalSeconds - _started.GetValueOrDefault(run, _clock.Elapsed.TotalSeconds);
        _eta.Record(run, seconds);
        _done.Add(run);
        string accuracies = string.Join(", ", result.Final.Tasks.Select(t => $"{t.Task} {t.Accuracy:P1}"));
        Console.WriteLine($"      {run.Label(seeds)} done in {seconds:F0} s: held-out accuracy {accuracies}");
    }

    public void Note(string line) => Console.WriteLine($"      {line}");

    private static string Format(TimeSpan t) => t.TotalHours >= 1
        ? $"{(int)t.TotalHours}h{t.Minutes:D2}m"
        : $"{t.Minutes}m{t.Seconds:D2}s";
}
