using System.Text.Json;
using System.Text.Json.Serialization;
using Grid.Core;

namespace Grid.Telemetry.Reports;

/// <summary>
/// PNG plots of a run's steps for people without a Grafana: reward (mean, with a band of one standard deviation),
/// accuracy and format rate, KL to the reference, and beta, each over the step index; every measured series (all but
/// beta, which the KL controller sets rather than measures) with its trailing moving average drawn over it (window in
/// the legend: <see cref="MovingAverageWindow"/>). When the run recorded validation, also the validation accuracy of
/// every task by policy version. Read from the run folder's <c>metrics.jsonl</c>, written to <c>plots/</c> in the same
/// folder. A value that is NaN or infinite (null in the file) has no point; the rest of its series is drawn.
/// </summary>
public static class RunPlots
{
    public const int Width = 900;

    public const int Height = 500;

    public const string Folder = "plots";

    /// <summary>The files <see cref="Write(string)"/> always produces, in <see cref="Folder"/>.</summary>
    public static IReadOnlyList<string> FileNames { get; } = ["reward.png", "accuracy.png", "kl.png", "beta.png"];

    /// <summary>Written after <see cref="FileNames"/> only for runs that recorded validation.</summary>
    public const string ValidationFileName = "validation.png";

    /// <summary>A null number in a line (a metric that was NaN or infinite, <see cref="NonFinite"/>) reads as NaN.</summary>
    private static readonly JsonSerializerOptions LineOptions = NonFinite.Json(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    });

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

    /// <summary>The files <see cref="Write(IReadOnlyList{StepMetrics}, string, string)"/> writes for these steps, in order.</summary>
    public static IReadOnlyList<string> FileNamesFor(IReadOnlyList<StepMetrics> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        return HasValidation(steps) ? [.. FileNames, ValidationFileName] : FileNames;
    }

    /// <summary>
    /// Steps in the trailing moving average of a run of <paramref name="steps"/> steps: about 5% of the run, at least 5
    /// (10 for the 200-step demo run).
    /// </summary>
    public static int MovingAverageWindow(int steps) => Math.Max(5, (int)Math.Round(steps * 0.05));

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
        return Write(steps, Path.Combine(runFolder, Folder), TrainedTask(runFolder));
    }

    /// <summary>
    /// Writes the plots of <paramref name="steps"/> into <paramref name="folder"/> (<see cref="FileNamesFor"/>); returns
    /// their paths. A validation plot left there by an earlier write is removed when these steps have no validation.
    /// <paramref name="trainedTask"/>, when given, is marked in the validation plot's legend.
    /// </summary>
    public static IReadOnlyList<string> Write(IReadOnlyList<StepMetrics> steps, string folder, string? trainedTask = null)
    {
        ArgumentNullException.ThrowIfNull(steps);
        Directory.CreateDirectory(folder);
        double[] x = steps.Select(s => (double)s.Step).ToArray();
        double[] reward = steps.Select(s => s.RewardMean).ToArray();
        double[] std = steps.Select(s => s.RewardStd).ToArray();
        int window = MovingAverageWindow(steps.Count);
        var paths = new List<string>();

        paths.Add(Save(folder, FileNames[0], "Reward", "step", "mean total reward", plot =>
        {
            int[] banded = Enumerable.Range(0, x.Length).Where(i => double.IsFinite(reward[i]) && double.IsFinite(std[i])).ToArray();
            if (banded.Length > 0)
            {
                var band = plot.Add.FillY(banded.Select(i => x[i]).ToArray(), banded.Select(i => reward[i] - std[i]).ToArray(),
                    banded.Select(i => reward[i] + std[i]).ToArray());
                band.LegendText = "mean ± std";
                band.FillStyle.Color = ScottPlot.Colors.C0.WithAlpha(0.2);
                band.LineStyle.Width = 0;
            }

            Series(plot, x, reward, "mean", ScottPlot.Colors.C0, window);
        }));
        paths.Add(Save(folder, FileNames[1], "Accuracy and format rate", "step", "share of rollouts", plot =>
        {
            Series(plot, x, steps.Select(s => s.Accuracy).ToArray(), "accuracy", ScottPlot.Colors.C0, window);
            Series(plot, x, steps.Select(s => s.FormatRate).ToArray(), "format rate", ScottPlot.Colors.C1, window);
        }));
        // Log scale: one spike (5.5 against a typical 0.09) flattened the rest of a linear KL plot. A run with no positive
        // KL (say, too short to move off the reference) keeps the linear scale, where its zeros still show.
        double[] kl = steps.Select(s => s.KlMean).ToArray();
        bool logKl = kl.Any(v => double.IsFinite(v) && v > 0);
        paths.Add(Save(folder, FileNames[2], logKl ? "KL to the reference policy (log scale)" : "KL to the reference policy", "step",
            "mean k3 KL per token", plot =>
            {
                Series(plot, x, kl, "KL", ScottPlot.Colors.C0, window, logKl ? Math.Log10 : null);
                if (logKl)
                {
                    // Ticks wherever the automatic generator puts them, labelled with the KL they stand for.
                    plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
                    {
                        LabelFormatter = y => Math.Pow(10, y).ToString("G3", System.Globalization.CultureInfo.InvariantCulture),
                    };
                }
            }));
        paths.Add(Save(folder, FileNames[3], "KL coefficient beta", "step", "beta", plot =>
        {
            var (bx, by) = Finite(x, steps.Select(s => s.Beta).ToArray());
            if (bx.Length > 0)
            {
                Line(plot, bx, by, "beta", ScottPlot.Colors.C0);
            }
        }));

        string validationPath = Path.Combine(folder, ValidationFileName);
        if (HasValidation(steps))
        {
            paths.Add(SaveValidation(folder, steps, trainedTask));
        }
        else if (File.Exists(validationPath))
        {
            File.Delete(validationPath); // from an earlier write: these steps have none
        }

        return paths;
    }

    /// <summary>The task the run trained, from its settings.json; null for a folder without one.</summary>
    private static string? TrainedTask(string runFolder)
    {
        string settings = Path.Combine(runFolder, "settings.json");
        if (!File.Exists(settings))
        {
            return null;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(settings),
            new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        return document.RootElement.TryGetProperty("task", out var task) && task.ValueKind == JsonValueKind.String
            ? task.GetString()
            : null;
    }

    private static bool HasValidation(IReadOnlyList<StepMetrics> steps) =>
        steps.Any(s => s.Validation is not null || s.ValidationStart is not null);

    /// <summary>Each task's validation accuracy by the policy version evaluated (0 before the first step).</summary>
    private static string SaveValidation(string folder, IReadOnlyList<StepMetrics> steps, string? trainedTask)
    {
        var validations = steps.SelectMany(s => new[] { s.ValidationStart, s.Validation })
            .OfType<ValidationMetrics>()
            .OrderBy(v => v.PolicyVersion)
            .ToArray();
        var tasks = validations.SelectMany(v => v.Accuracy.Keys).Distinct().ToArray();
        int prompts = validations.Max(v => v.Prompts);
        return Save(folder, ValidationFileName, $"Validation accuracy (greedy, {prompts} prompts per task)",
            "policy version (steps applied)", "share of validation prompts answered right", plot =>
            {
                for (int t = 0; t < tasks.Length; t++)
                {
                    var points = validations.Where(v => v.Accuracy.TryGetValue(tasks[t], out double a) && double.IsFinite(a)).ToArray();
                    if (points.Length == 0)
                    {
                        continue; // no finite accuracy of this task to draw
                    }

                    var line = Line(plot, points.Select(v => (double)v.PolicyVersion).ToArray(),
                        points.Select(v => v.Accuracy[tasks[t]]).ToArray(),
                        tasks[t] == trainedTask ? $"{tasks[t]} (trained)" : tasks[t], Palette(t));
                    line.MarkerSize = 6;
                }

                plot.Axes.SetLimitsY(-0.02, 1.02);
            });
    }

    /// <summary>
    /// A measured per-step series, faint, with its trailing moving average over it in the same colour. A step whose value
    /// is NaN or infinite has no point (the line joins its neighbours).
    /// </summary>
    private static void Series(ScottPlot.Plot plot, double[] x, double[] y, string label, ScottPlot.Color color, int window,
        Func<double, double>? scale = null)
    {
        scale ??= static v => v;
        var (fx, fy) = Finite(x, y.Select(scale).ToArray()); // a log scale drops zeros here
        if (fx.Length > 0)
        {
            var raw = Line(plot, fx, fy, label, color.WithAlpha(0.35));
            raw.MarkerSize = x.Length > 60 ? 0 : 4;
        }

        var (mx, my) = MovingAverage(x, y, window); // averaged before scaling: the mean, not a geometric mean
        var (ax, ay) = Finite(mx, my.Select(scale).ToArray());
        if (ax.Length > 0)
        {
            var average = Line(plot, ax, ay, $"{label}, moving average of {window} steps", color);
            average.LineWidth = 2.5f;
            average.MarkerSize = 0;
        }
    }

    /// <summary>
    /// The trailing mean of the last <paramref name="window"/> values at each step that has a full window (non-finite
    /// values, such as the loss of a skipped update, are left out of their windows).
    /// </summary>
    private static (double[] X, double[] Y) MovingAverage(double[] x, double[] y, int window)
    {
        var ax = new List<double>();
        var ay = new List<double>();
        for (int i = window - 1; i < y.Length; i++)
        {
            var finite = y.Skip(i - window + 1).Take(window).Where(double.IsFinite).ToArray();
            if (finite.Length > 0)
            {
                ax.Add(x[i]);
                ay.Add(finite.Average());
            }
        }

        return (ax.ToArray(), ay.ToArray());
    }

    /// <summary>The points whose x and y are both finite (plots leave NaN and infinite values out).</summary>
    private static (double[] X, double[] Y) Finite(double[] x, double[] y)
    {
        int[] kept = Enumerable.Range(0, Math.Min(x.Length, y.Length))
            .Where(i => double.IsFinite(x[i]) && double.IsFinite(y[i]))
            .ToArray();
        return (kept.Select(i => x[i]).ToArray(), kept.Select(i => y[i]).ToArray());
    }

    private static ScottPlot.Plottables.Scatter Line(ScottPlot.Plot plot, double[] x, double[] y, string label, ScottPlot.Color color)
    {
        var line = plot.Add.Scatter(x, y, color);
        line.LegendText = label;
        line.MarkerSize = x.Length > 60 ? 0 : 5;
        return line;
    }

    /// <summary>A plot that draws its text in the font registered from the machine's font files (none found: no text).</summary>
    public static ScottPlot.Plot NewPlot()
    {
        var plot = new ScottPlot.Plot();
        if (FontName.Value is { } font)
        {
            plot.Font.Set(font);
        }

        return plot;
    }

    private static ScottPlot.Color Palette(int index) => new ScottPlot.Palettes.Category10().GetColor(index);

    private static string Save(string folder, string file, string title, string xLabel, string yLabel, Action<ScottPlot.Plot> draw)
    {
        using var plot = NewPlot();
        draw(plot);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(ScottPlot.Edge.Bottom); // below the axes, where it covers no line
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
