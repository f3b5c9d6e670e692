using Grid.Core;
using Grid.Training;
using Grid.Training.Evaluation;
using Grid.Training.Metrics;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>
/// Live progress in the terminal: a progress bar for the running phase with step, reward, accuracy, KL and beta. A
/// finished phase leaves the live region and stays as one line above it, with the evaluation tables, so nothing is
/// drawn below the last table. When the output is not a terminal (CI, a log file) it prints a plain line every few
/// steps instead.
/// </summary>
internal sealed class ConsoleProgress : ITrainingObserver
{
    private readonly ProgressContext? _context;
    private ProgressTask? _current;
    private string? _currentLine;
    private int _total;

    private ConsoleProgress(ProgressContext? context) => _context = context;

    /// <summary>Runs <paramref name="work"/> with a live display (or plain lines when output is redirected).</summary>
    public static T Run<T>(Func<ITrainingObserver, T> work)
    {
        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            return work(new ConsoleProgress(null));
        }

        // Everything printed while the display is live goes through AnsiConsole, which writes it above the live region;
        // finished phases leave the region (HideCompleted), so it is empty and cleared when the work ends.
        return AnsiConsole.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var progress = new ConsoleProgress(ctx);
                try
                {
                    return work(progress);
                }
                finally
                {
                    progress.FinishPhase();
                }
            });
    }

    public void OnPhase(string phase, int totalSteps)
    {
        _total = totalSteps;
        FinishPhase();
        _current = totalSteps > 0 ? _context?.AddTask(phase, maxValue: totalSteps) : null;
        if (_context is null)
        {
            Console.WriteLine(totalSteps > 0 ? $"[{phase}] {totalSteps} steps" : $"[{phase}]");
        }
    }

    public void OnSftStep(int step, double loss)
    {
        Show(step, $"sft   step {step,5}/{_total}  loss {NonFinite.Format(loss, "F4")}", step % 25 == 0 || step == _total);
    }

    public void OnStep(StepMetrics m)
    {
        long done = m.Step + 1;
        string line = $"grpo  step {done,4}/{_total}  reward {NonFinite.Format(m.RewardMean, "F3")}"
                      + $"  acc {NonFinite.Format(m.Accuracy, "P1")}  fmt {NonFinite.Format(m.FormatRate, "P0")}"
                      + $"  kl {NonFinite.Format(m.KlMean, "F4")}  beta {NonFinite.Format(m.Beta, "F4")}"
                      + $"  {NonFinite.Format(m.SecondsTotal, "F2")}s" + (m.UpdateSkipped ? $"  SKIPPED: {m.SkipReason}" : "");
        if (m.Validation is { } validation)
        {
            line += "  validation " + string.Join(" ", validation.Accuracy.Select(a => $"{a.Key} {a.Value:P1}"));
        }

        Show(done, line, done % 5 == 0 || done == _total || m.UpdateSkipped || m.Validation is not null);
    }

    public void OnEvaluation(EvalReport report)
    {
        FinishPhase();
        var table = new Table().Title($"evaluation: {report.Label} (greedy, held-out)")
            .AddColumns("task", "prompts", "accuracy", "format rate");
        foreach (var t in report.Tasks)
        {
            string name = t.Task == report.TrainedTask ? $"{t.Task} (trained)" : t.Task;
            table.AddRow(name, t.Prompts.ToString(), $"{t.Accuracy:P1}", $"{t.FormatRate:P1}");
        }

        AnsiConsole.Write(_context is null ? table : new ClearedLines(table));
    }

    /// <summary>Takes the running phase's bar out of the live region and leaves its last line above it.</summary>
    private void FinishPhase()
    {
        if (_current is null)
        {
            return;
        }

        var finished = _current;
        _current = null;
        finished.StopTask();
        if (_currentLine is not null)
        {
            AnsiConsole.Write(new ClearedLines(new Text(_currentLine + Environment.NewLine)));
            _currentLine = null;
        }
    }

    private void Show(long step, string line, bool printPlain)
    {
        if (_current is not null)
        {
            _current.Value = step;
            _current.Description = Markup.Escape(line);
            _currentLine = line;
        }
        else if (_context is null && printPlain)
        {
            Console.WriteLine(line);
        }
    }
}
