using Grid.Telemetry.Reports;
using Grid.Training.Experiments;
using SkiaSharp;

namespace Grid.Telemetry.Tests;

/// <summary>grid experiment's bar chart: arms grouped per (trained task, evaluated task), with error bars.</summary>
public sealed class ExperimentChartTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("grid-experiment-chart-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_studys_chart_decodes_as_a_png_of_the_documented_size_with_a_bar_per_arm_and_column()
    {
        string[] arms = ["base", "sft", "grpo", "grpo-d"];
        string[] tasks = ["counting", "geometry"];
        var runs = new List<ArmResult> { Run("base", null, null, 0.12, 0.41) };
        foreach (string task in tasks)
        {
            for (int seed = 1; seed <= 2; seed++)
            {
                runs.Add(Run("sft", task, seed, 0.15 + (0.01 * seed), 0.40));
                runs.Add(Run("grpo", task, seed, 0.20, 0.45 + (0.02 * seed)));
                runs.Add(Run("grpo-d", task, seed, 0.25 + (0.03 * seed), 0.50));
            }
        }

        var cells = ExperimentAggregation.Cells(runs, arms, tasks, tasks, evalPrompts: 200);
        var results = new ExperimentResults("chart", DateTimeOffset.UtcNow, 1, "grid experiment", 2, "Linux", "embedded", "small", [], [],
            new BasePolicy("/base", "abc", true, "runs/base"), arms, tasks, tasks, [1, 2], 200, ExperimentResults.HeldOutTestPrompts, [],
            runs, cells, ExperimentAggregation.Comparisons(cells));

        string path = ExperimentChart.Write(results, Path.Combine(_folder, ExperimentChart.FileName));

        using var codec = SKCodec.Create(path);
        Assert.True(codec is not null, $"{path} is not an image SkiaSharp can decode");
        Assert.Equal(SKEncodedImageFormat.Png, codec.EncodedFormat);
        using var bitmap = SKBitmap.Decode(codec);
        Assert.Equal((ExperimentChart.Width, ExperimentChart.Height), (bitmap.Width, bitmap.Height));
        // Each arm's bars are drawn in the arm's own colour (Category10: blue, orange, green, red).
        var colours = Enumerable.Range(0, bitmap.Height).SelectMany(y => Enumerable.Range(0, bitmap.Width).Select(x => bitmap.GetPixel(x, y)))
            .ToHashSet();
        foreach (var palette in new ScottPlot.Palettes.Category10().Colors.Take(arms.Length))
        {
            Assert.Contains(new SKColor(palette.R, palette.G, palette.B), colours);
        }
    }

    private static ArmResult Run(string arm, string? task, long? seed, double counting, double geometry) => new(arm, task, seed,
        $"runs/{arm}", new Dictionary<string, double> { ["counting"] = counting, ["geometry"] = geometry },
        new Dictionary<string, double> { ["counting"] = 1, ["geometry"] = 1 }, 60, 0, 0, 1);
}
