using System.Text.Json;
using Grid.Core;
using Grid.Telemetry.Reports;
using Grid.Telemetry.Tests.Support;
using Grid.Training.Runs;

namespace Grid.Telemetry.Tests;

/// <summary>The plots of a run folder's metrics.jsonl, with and without validation.</summary>
public sealed class RunPlotsTests : IDisposable
{
    private static readonly JsonSerializerOptions LineOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly string _run = Directory.CreateTempSubdirectory("grid-plots-").FullName;

    public void Dispose() => Directory.Delete(_run, recursive: true);

    [Fact]
    public void A_run_that_validated_gets_a_validation_plot_beside_the_others()
    {
        // 40 steps validated every 10 (the first step also before its update), as metrics.jsonl records them.
        WriteMetrics(Enumerable.Range(0, 40).Select(i => Step(i) with
        {
            ValidationStart = i == 0 ? Steps.Validation(policyVersion: 0, counting: 0.2, geometry: 0.3) : null,
            Validation = (i + 1) % 10 == 0 ? Steps.Validation(i + 1, counting: 0.2 + 0.01 * i, geometry: 0.3 + 0.015 * i) : null,
        }).Select(s => JsonSerializer.Serialize(s, LineOptions)));

        var paths = RunPlots.Write(_run);

        Assert.Equal([.. RunPlots.FileNames, RunPlots.ValidationFileName], paths.Select(Path.GetFileName));
        Assert.Equal(paths.Select(Path.GetFileName), RunPlots.FileNamesFor(ReadBack()));
        PlotFiles.AssertPlots(paths);
    }

    [Fact]
    public void An_older_metrics_file_without_validation_fields_gets_the_other_plots_and_no_validation_plot()
    {
        // Lines as runs wrote them before validation existed: no validation, validation_start or seconds_validation.
        WriteMetrics(Enumerable.Range(0, 40).Select(i =>
        {
            var line = JsonSerializer.SerializeToNode(Step(i), LineOptions)!.AsObject();
            line.Remove("validation");
            line.Remove("validation_start");
            line.Remove("seconds_validation");
            return line.ToJsonString();
        }));

        var paths = RunPlots.Write(_run);

        Assert.Equal(RunPlots.FileNames, paths.Select(Path.GetFileName));
        Assert.False(File.Exists(Path.Combine(_run, RunPlots.Folder, RunPlots.ValidationFileName)));
        PlotFiles.AssertPlots(paths);
    }

    [Fact]
    public void Non_finite_values_written_as_null_are_left_out_of_the_plots_and_every_plot_is_drawn()
    {
        // As RunFolder writes them: NaN and infinite numbers become null. Steps 5 to 7 failed entirely.
        double[] odd = [double.NaN, double.PositiveInfinity, double.NegativeInfinity];
        WriteMetrics(Enumerable.Range(0, 40).Select(i => Step(i) with
        {
            RewardStd = i is >= 5 and <= 7 ? odd[i - 5] : 0.1,
            Accuracy = i is >= 5 and <= 7 ? odd[i - 5] : 0.3,
            KlMean = i is >= 5 and <= 7 ? odd[i - 5] : 0.001 * i,
            Beta = i == 6 ? double.NaN : 0.01,
            Loss = i is >= 5 and <= 7 ? double.NaN : -0.03,
            ValidationStart = i == 0 ? Steps.Validation(policyVersion: 0, counting: 0.2, geometry: double.NaN) : null,
            Validation = (i + 1) % 10 == 0 ? Steps.Validation(i + 1, counting: 0.2 + 0.01 * i, geometry: 0.3) : null,
        }).Select(s => JsonSerializer.Serialize(s, RunFolder.LineOptions)));
        Assert.Contains("\"kl_mean\":null", File.ReadAllText(Path.Combine(_run, "metrics.jsonl")));

        var paths = RunPlots.Write(_run);

        Assert.Equal([.. RunPlots.FileNames, RunPlots.ValidationFileName], paths.Select(Path.GetFileName));
        PlotFiles.AssertPlots(paths);
    }

    [Fact]
    public void A_series_with_no_finite_value_at_all_still_gives_every_plot()
    {
        var steps = Enumerable.Range(0, 3).Select(i => Step(i) with
        {
            RewardMean = 0,
            RewardStd = double.NaN,
            KlMean = double.NaN,
            Beta = i == 0 ? double.PositiveInfinity : double.NaN,
            Accuracy = double.NegativeInfinity,
            ValidationStart = i == 0 ? Steps.Validation(policyVersion: 0, counting: 0.25, geometry: double.NaN) : null,
        }).ToArray();

        var paths = RunPlots.Write(steps, Path.Combine(_run, RunPlots.Folder));

        Assert.Equal([.. RunPlots.FileNames, RunPlots.ValidationFileName], paths.Select(Path.GetFileName));
        Assert.All(paths, path => Assert.True(new FileInfo(path).Length > 0, path));
    }

    [Theory]
    [InlineData(12, 5)]
    [InlineData(200, 10)]
    [InlineData(1000, 50)]
    public void The_moving_average_spans_about_5_percent_of_the_run_and_at_least_5_steps(int steps, int window) =>
        Assert.Equal(window, RunPlots.MovingAverageWindow(steps));

    private static StepMetrics Step(int i) => Steps.Report(step: i, beta: 0.01) with
    {
        RewardMean = 0.5 + 0.2 * Math.Sin(i),
        Accuracy = 0.3 + 0.1 * Math.Cos(i),
        KlMean = 0.001 * i,
    };

    private void WriteMetrics(IEnumerable<string> lines) =>
        File.WriteAllLines(Path.Combine(_run, "metrics.jsonl"), lines);

    private StepMetrics[] ReadBack() => File.ReadLines(Path.Combine(_run, "metrics.jsonl"))
        .Select(l => JsonSerializer.Deserialize<StepMetrics>(l, LineOptions)!).ToArray();
}
