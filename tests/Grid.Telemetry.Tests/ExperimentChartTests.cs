using Grid.Telemetry.Reports;
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
        var bars = new List<AccuracyBar>();
        foreach (string trained in tasks)
        {
            foreach (string eval in tasks)
            {
                for (int a = 0; a < arms.Length; a++)
                {
                    bars.Add(new AccuracyBar(arms[a], trained, eval, 0.12 + (0.1 * a), 0.02 + (0.005 * a)));
                }
            }
        }

        var chart = new AccuracyChart(arms, tasks, tasks, bars, Seeds: 2, EvalPrompts: 200);
        string path = ExperimentChart.Write(chart, Path.Combine(_folder, ExperimentChart.FileName));

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
}
