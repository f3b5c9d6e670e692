namespace Grid.Cli.Benchmarks;

/// <summary>
/// The simulated async suite as a PNG: steps/s over rollout silos, one line per staleness bound k, and for k &gt; 0 a
/// dashed line of 1 / the median step.
/// </summary>
internal static class AsyncChart
{
    public const string FileName = "async-throughput.png";

    /// <summary>Draws the rows into <paramref name="path"/>; returns the path.</summary>
    public static string Write(IReadOnlyList<AsyncRow> rows, IReadOnlyList<int> ks, string path, string title)
    {
        using var plot = Grid.Telemetry.Reports.RunPlots.NewPlot(); // the run plots' font

        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < ks.Count; i++)
        {
            var line = rows.Where(r => r.MaxStaleness == ks[i]).OrderBy(r => r.RolloutSilos).ToArray();
            var scatter = plot.Add.Scatter(line.Select(r => (double)r.RolloutSilos).ToArray(), line.Select(r => r.StepsPerSecond).ToArray(),
                palette.GetColor(i));
            scatter.LegendText = $"k = {ks[i]}";
            scatter.MarkerSize = 7;
            if (ks[i] > 0)
            {
                // A typical step's rate: the overlap itself, which a few stalled steps hide from the mean.
                var median = plot.Add.Scatter(line.Select(r => (double)r.RolloutSilos).ToArray(),
                    line.Select(r => r.MedianStepsPerSecond).ToArray(), palette.GetColor(i));
                median.LegendText = $"k = {ks[i]}, 1 / median step";
                median.LinePattern = ScottPlot.LinePattern.Dashed;
                median.MarkerSize = 4;
            }
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. rows.Select(r => r.RolloutSilos).Distinct().Order().Select(n => (double)n)],
            [.. rows.Select(r => r.RolloutSilos).Distinct().Order().Select(n => $"{n}")]);
        double top = rows.Select(r => Math.Max(r.StepsPerSecond, r.MaxStaleness > 0 ? r.MedianStepsPerSecond : 0)).DefaultIfEmpty(1).Max();
        plot.Axes.SetLimitsY(0, top * 1.1);
        plot.Title(title);
        plot.XLabel("rollout silos");
        plot.YLabel("steps/s");
        plot.ShowLegend(ScottPlot.Edge.Right); // beside the data: inside, it hid the flat learner-bound lines
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }

        plot.SavePng(path, 1000, 500);
        return path;
    }
}
