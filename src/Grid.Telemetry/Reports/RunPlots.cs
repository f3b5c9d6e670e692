using System.Text.Json;
using System.Text.Json.Serialization;
using Grid.Training.Metrics;

namespace Grid.Telemetry.Reports;

/// <summary>
/// PNG plots of a run's steps for people without a Grafana: reward (mean, with a band of one standard deviation),
/// accuracy and format rate, KL to the reference, and beta, each over the step index. Read from the run folder's
/// <c>metrics.jsonl</c>, written to <c>plots/</c> in the same folder.
/// </summary>
public static class RunPlots
{
    public const int Width = 900;

    public const int Height = 500;

    public const string Folder = "plots";

    /// <summary>The files <see cref="Write"/> produces, in <see cref="Folder"/>.</summary>
    public static IReadOnlyList<string> FileNames { get; } = ["reward.png", "accuracy.png", "kl.png", "beta.png"];

    private static readonly JsonSerializerOptions LineOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Font files tried in order: ScottPlot's SkiaSharp (no fontconfig) does not find system fonts by name.</summary>
    private static readonly string[] FontFiles =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        @"C:\Windows\Fonts\arial.ttf",
    ];

    private static readonly Lazy<string?> FontName = new(RegisterFont);

    /// <summary>Writes the plots of the run in <paramref name="runFolder"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(string runFolder)
    {
        string metricsFile = Path.Combine(runFolder, "metrics.jsonl");
        if (!File.Exists(metricsFile))
        {
            throw new FileNotFoundException(
                $"No metrics.jsonl in run folder {runFolder}; plots need a run that completed at least one GRPO-D step.",
                metricsFile);
        }

        var steps = File.ReadLines(metricsFile)
            .Where(line => !string.IsNullOrWhiteSpace(line))
            .Select(line => JsonSerializer.Deserialize<StepMetrics>(line, LineOptions)
                ?? throw new InvalidDataException($"A line of {metricsFile} is null; expected a step's metrics."))
            .ToArray();
        return Write(steps, Path.Combine(runFolder, Folder));
    }

    /// <summary>Writes the plots of <paramref name="steps"/> into <paramref name="folder"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(IReadOnlyList<StepMetrics> steps, string folder)
    {
        ArgumentNullException.ThrowIfNull(steps);
        Directory.CreateDirectory(folder);
        double[] x = steps.Select(s => (double)s.Step).ToArray();
        double[] reward = steps.Select(s => s.RewardMean).ToArray();
        double[] std = steps.Select(s => s.RewardStd).ToArray();
        var paths = new List<string>();

        paths.Add(Save(folder, FileNames[0], "Reward", "mean total reward", plot =>
        {
            var band = plot.Add.FillY(x, reward.Zip(std, (m, s) => m - s).ToArray(), reward.Zip(std, (m, s) => m + s).ToArray());
            band.LegendText = "mean ± std";
            band.FillStyle.Color = ScottPlot.Colors.C0.WithAlpha(0.2);
            band.LineStyle.Width = 0;
            Line(plot, x, reward, "mean");
        }));
        paths.Add(Save(folder, FileNames[1], "Accuracy and format rate", "share of rollouts", plot =>
        {
            Line(plot, x, steps.Select(s => s.Accuracy).ToArray(), "accuracy");
            Line(plot, x, steps.Select(s => s.FormatRate).ToArray(), "format rate");
        }));
        paths.Add(Save(folder, FileNames[2], "KL to the reference policy", "mean k3 KL per token",
            plot => Line(plot, x, steps.Select(s => s.KlMean).ToArray(), "KL")));
        paths.Add(Save(folder, FileNames[3], "KL coefficient beta", "beta",
            plot => Line(plot, x, steps.Select(s => s.Beta).ToArray(), "beta")));
        return paths;
    }

    private static void Line(ScottPlot.Plot plot, double[] x, double[] y, string label)
    {
        var line = plot.Add.Scatter(x, y);
        line.LegendText = label;
        line.MarkerSize = x.Length > 60 ? 0 : 5;
    }

    private static string Save(string folder, string file, string title, string yLabel, Action<ScottPlot.Plot> draw)
    {
        using var plot = new ScottPlot.Plot();
        if (FontName.Value is { } font)
        {
            plot.Font.Set(font);
        }

        draw(plot);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel(yLabel);
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        string path = Path.Combine(folder, file);
        plot.SavePng(path, Width, Height);
        return path;
    }

    /// <summary>The first font file found, registered with ScottPlot; null draws without labels' text.</summary>
    private static string? RegisterFont()
    {
        string? file = FontFiles.FirstOrDefault(File.Exists);
        if (file is null)
        {
            return null;
        }

        const string name = "Grid Plots";
        ScottPlot.Fonts.AddFontFile(name, file);
        return name;
    }
}
