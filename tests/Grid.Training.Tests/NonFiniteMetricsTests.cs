using System.Text.Json;
using Grid.Core;
using Grid.Training.Evaluation;
using Grid.Training.Metrics;
using Grid.Training.Runs;
using Grid.Training.Settings;

namespace Grid.Training.Tests;

/// <summary>
/// A NaN or infinite metric (a step whose groups all failed has no loss, entropy or gradient norm) is written as null in
/// every run folder file, listed in the step's line, read back as NaN, and printed as "-".
/// </summary>
public sealed class NonFiniteMetricsTests : IDisposable
{
    private readonly string _output = Directory.CreateTempSubdirectory("grid-nonfinite-").FullName;

    public void Dispose() => Directory.Delete(_output, recursive: true);

    public static TheoryData<double> NonFiniteValues => [double.NaN, double.PositiveInfinity, double.NegativeInfinity];

    [Theory]
    [MemberData(nameof(NonFiniteValues))]
    public void A_step_line_holds_null_for_each_non_finite_metric_lists_them_and_reads_back_as_NaN(double value)
    {
        var folder = NewFolder();
        var step = new StepMetrics
        {
            Step = 0,
            Beta = 0.01,
            KlMean = 0.002,
            Loss = value,
            Entropy = value,
            GradNorm = value,
            UpdateSkipped = true,
            SkipReason = "every group of step 0 failed",
        };

        folder.AppendLine("metrics.jsonl", step);

        string line = Assert.Single(File.ReadAllLines(Path.Combine(folder.Path, "metrics.jsonl")));
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        Assert.Equal(JsonValueKind.Null, root.GetProperty("loss").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("entropy").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("grad_norm").ValueKind);
        Assert.Equal(0.002, root.GetProperty("kl_mean").GetDouble());
        Assert.Equal(["loss", "entropy", "grad_norm"],
            root.GetProperty("non_finite_metrics").EnumerateArray().Select(e => e.GetString()));
        Assert.True(root.GetProperty("update_skipped").GetBoolean());

        var read = Assert.Single(RunFolderReport.Read(folder.Path).Steps);
        Assert.True(double.IsNaN(read.Loss));
        Assert.True(double.IsNaN(read.Entropy));
        Assert.True(double.IsNaN(read.GradNorm));
        Assert.Equal(0.002, read.KlMean);
        Assert.Equal(["loss", "entropy", "grad_norm"], read.NonFiniteMetrics);
        Assert.Equal("every group of step 0 failed", read.SkipReason);
    }

    [Fact]
    public void A_finite_step_lists_no_metric_and_round_trips_every_number_exactly()
    {
        var folder = NewFolder();
        var step = new StepMetrics { Step = 3, Beta = 0.0125, Loss = -0.031, Entropy = 1.9, GradNorm = 0.88, SecondsTotal = 2.77 };

        folder.AppendLine("metrics.jsonl", step);

        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.Path, "metrics.jsonl")));
        Assert.Equal(0, document.RootElement.GetProperty("non_finite_metrics").GetArrayLength());
        var read = Assert.Single(RunFolderReport.Read(folder.Path).Steps);
        Assert.Empty(read.NonFiniteMetrics);
        Assert.Equal((step.Beta, step.Loss, step.Entropy, step.GradNorm, step.SecondsTotal),
            (read.Beta, read.Loss, read.Entropy, read.GradNorm, read.SecondsTotal));
    }

    [Theory]
    [MemberData(nameof(NonFiniteValues))]
    public void Validation_accuracies_sft_losses_and_json_documents_write_null_for_non_finite_numbers(double value)
    {
        var folder = NewFolder();
        folder.AppendLine("metrics.jsonl", new StepMetrics
        {
            Step = 0,
            Validation = new ValidationMetrics
            {
                PolicyVersion = 1,
                Prompts = 8,
                Accuracy = new Dictionary<string, double> { ["counting"] = value, ["geometry"] = 0.5 },
                FormatRate = new Dictionary<string, double> { ["counting"] = 1, ["geometry"] = value },
            },
        });
        folder.AppendLine("sft.jsonl", new { step = 1, loss = value });
        var eval = new EvalReport("final", "geometry",
            [new TaskScore("counting", 8, value, 0.25), new TaskScore("geometry", 8, 0.5, 1)], Seconds: 1.5);
        folder.WriteJson("eval-final.json", eval);

        using (var line = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.Path, "metrics.jsonl"))))
        {
            var validation = line.RootElement.GetProperty("validation");
            Assert.Equal(JsonValueKind.Null, validation.GetProperty("accuracy").GetProperty("counting").ValueKind);
            Assert.Equal(JsonValueKind.Null, validation.GetProperty("format_rate").GetProperty("geometry").ValueKind);
        }

        using (var sft = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.Path, "sft.jsonl"))))
        {
            Assert.Equal(JsonValueKind.Null, sft.RootElement.GetProperty("loss").ValueKind);
        }

        using (var final = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.Path, "eval-final.json"))))
        {
            Assert.Equal(JsonValueKind.Null, final.RootElement.GetProperty("tasks")[0].GetProperty("accuracy").ValueKind);
        }

        var report = RunFolderReport.Read(folder.Path);
        var step = Assert.Single(report.Steps);
        Assert.True(double.IsNaN(step.Validation!.Accuracy["counting"]));
        Assert.Equal(0.5, step.Validation.Accuracy["geometry"]);
        Assert.True(double.IsNaN(Assert.Single(report.SftSteps).Loss));
        Assert.True(double.IsNaN(report.Final!.Tasks[0].Accuracy));
        Assert.Equal(0.25, report.Final.Tasks[0].FormatRate);
    }

    [Fact]
    public void Lines_that_spell_non_finite_numbers_as_literals_still_read_back()
    {
        var folder = NewFolder();
        File.WriteAllText(Path.Combine(folder.Path, "metrics.jsonl"),
            """{"step":0,"loss":"NaN","grad_norm":"Infinity","entropy":"-Infinity","kl_mean":null}""" + "\n");

        var step = Assert.Single(RunFolderReport.Read(folder.Path).Steps);

        Assert.True(double.IsNaN(step.Loss));
        Assert.Equal(double.PositiveInfinity, step.GradNorm);
        Assert.Equal(double.NegativeInfinity, step.Entropy);
        Assert.True(double.IsNaN(step.KlMean));
        Assert.Equal(["kl_mean", "loss", "entropy", "grad_norm"], step.NonFiniteMetrics);
    }

    [Theory]
    [InlineData(double.NaN, "-")]
    [InlineData(double.PositiveInfinity, "-")]
    [InlineData(double.NegativeInfinity, "-")]
    [InlineData(0.25, "0.250")]
    public void A_table_prints_a_non_finite_number_as_a_dash(double value, string text) =>
        Assert.Equal(text, NonFinite.Format(value, "F3"));

    private RunFolder NewFolder() =>
        RunFolder.Create(RunSettingsLoader.Load("smoke", overrides: [$"output_directory={JsonSerializer.Serialize(_output)}"]),
            DateTimeOffset.UtcNow);
}
