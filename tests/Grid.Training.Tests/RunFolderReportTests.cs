using System.Text.Json;
using Grid.Core;
using Grid.Training.Evaluation;
using Grid.Training.Metrics;
using Grid.Training.Runs;
using Grid.Training.Settings;

namespace Grid.Training.Tests;

public sealed class RunFolderReportTests : IDisposable
{
    private readonly string _output = Directory.CreateTempSubdirectory("grid-run-report-").FullName;

    public void Dispose() => Directory.Delete(_output, recursive: true);

    [Fact]
    public void A_finished_runs_folder_reads_back_as_its_settings_steps_sft_losses_evaluations_and_summary()
    {
        var settings = RunSettingsLoader.Load("smoke", overrides: [$"output_directory={JsonSerializer.Serialize(_output)}"]);
        var result = new InProcessTrainer(settings, new NoObserver()).Run(cancellation: TestContext.Current.CancellationToken);
        long tokens = File.ReadLines(Path.Combine(result.RunFolder, "metrics.jsonl"))
            .Sum(line => JsonDocument.Parse(line).RootElement.GetProperty("tokens_generated").GetInt64());

        var report = RunFolderReport.Read(result.RunFolder);

        Assert.Equal(RunSettingsLoader.ToJson(settings), RunSettingsLoader.ToJson(report.Settings));
        Assert.Equal([0L, 1L, 2L], report.Steps.Select(s => s.Step));
        Assert.Equal(tokens, report.TokensGenerated);
        Assert.Equal(Enumerable.Range(1, settings.Sft.Steps), report.SftSteps.Select(s => s.Step));
        Assert.Equal(result.AfterSft.Tasks, report.Start!.Tasks);
        Assert.Equal(result.Final.Tasks, report.Final!.Tasks);
        Assert.Equal(result.FinalCheckpoint, report.Summary!.FinalCheckpoint);
    }

    [Fact]
    public void A_run_folder_in_progress_reads_as_far_as_it_got()
    {
        var folder = RunFolder.Create(RunSettingsLoader.Load("smoke", overrides: [$"output_directory={JsonSerializer.Serialize(_output)}"]),
            DateTimeOffset.UtcNow);
        folder.AppendLine("metrics.jsonl", new StepMetrics { Step = 0, Beta = 0.01, TokensGenerated = 40 });

        var report = RunFolderReport.Read(folder.Path);

        Assert.Equal(40, report.TokensGenerated);
        Assert.Null(report.Final);
        Assert.Null(report.Summary);
    }

    [Fact]
    public void A_folder_without_settings_json_is_not_a_run_folder()
    {
        Assert.False(RunFolderReport.IsRunFolder(_output));
        var e = Assert.Throws<DirectoryNotFoundException>(() => RunFolderReport.Read(_output));
        Assert.Contains("settings.json", e.Message);
    }

    private sealed class NoObserver : ITrainingObserver
    {
        public void OnPhase(string phase, int totalSteps)
        {
        }

        public void OnSftStep(int step, double loss)
        {
        }

        public void OnEvaluation(EvalReport report)
        {
        }

        public void OnStep(StepMetrics metrics)
        {
        }
    }
}
