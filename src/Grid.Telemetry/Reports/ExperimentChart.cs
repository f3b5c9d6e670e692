namespace Grid.Telemetry.Reports;

/// <summary>One bar of <see cref="ExperimentChart"/>: an arm's mean held-out accuracy on one (trained, evaluated) task pair.</summary>
public sealed record AccuracyBar(string Arm, string TrainedTask, string EvalTask, double Mean, double StandardError);

/// <summary>
/// What <see cref="ExperimentChart"/> draws: the arms in legend order, the trained and the evaluated tasks, the bars,
/// and the title's seed and prompt counts.
/// </summary>
public sealed record AccuracyChart(IReadOnlyList<string> Arms, IReadOnlyList<string> Tasks, IReadOnlyList<string> EvalTasks,
    IReadOnlyList<AccuracyBar> Bars, int Seeds, int EvalPrompts)
{
    public AccuracyBar? Bar(string arm, string trainedTask, string evalTask) =>
        Bars.FirstOrDefault(b => b.Arm == arm && b.TrainedTask == trainedTask && b.EvalTask == evalTask);
}

/// <summary>
/// A study's results as a PNG bar chart: one group of bars per (trained task, evaluated task), one bar per arm with
/// its mean held-out accuracy and an error bar of one standard error (seed spread and evaluation noise combined).
/// </summary>
public static class ExperimentChart
{
    public const string FileName = "accuracy.png";

    public const int Width = 1000;

    public const int Height = 550;

    /// <summary>Draws <paramref name="results"/> into <paramref name="path"/>; returns the path.</summary>
    public static string Write(AccuracyChart results, string path)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var columns = results.Tasks.Select(t => (Trained: t, Eval: t))
            .Concat(results.Tasks.SelectMany(t => results.EvalTasks.Where(e => e != t).Select(e => (Trained: t, Eval: e))))
            .ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        using var plot = RunPlots.NewPlot();

        int arms = results.Arms.Count;
        var bars = new List<ScottPlot.Bar>();
        for (int c = 0; c < columns.Length; c++)
        {
            for (int a = 0; a < arms; a++)
            {
                if (results.Bar(results.Arms[a], columns[c].Trained, columns[c].Eval) is { } cell)
                {
                    bars.Add(new ScottPlot.Bar
                    {
                        Position = (c * (arms + 1)) + a,
                        Value = cell.Mean * 100,
                        Error = cell.StandardError * 100,
                        FillColor = palette.GetColor(a),
                        Label = $"{cell.Mean * 100:F1}",
                    });
                }
            }
        }

        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 11;
        for (int a = 0; a < arms; a++)
        {
            plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = results.Arms[a], FillColor = palette.GetColor(a) });
        }

        var ticks = columns.Select((column, c) => new ScottPlot.Tick((c * (arms + 1)) + ((arms - 1) / 2.0),
            $"trained {column.Trained}\neval {column.Eval}")).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        // Accuracy is a share: the axis starts at 0 and leaves room above the highest error bar, up to 100%.
        double top = bars.Count == 0 ? 0 : bars.Max(b => b.Value + b.Error);
        plot.Axes.SetLimitsY(0, Math.Clamp(Math.Ceiling(top * 1.15 / 10) * 10, 10, 100));
        plot.Title($"Held-out accuracy, {results.Seeds} seed(s), {results.EvalPrompts} prompts per task");
        plot.YLabel("accuracy (%), error bar: 1 standard error");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, Width, Height);
        return path;
    }
}
