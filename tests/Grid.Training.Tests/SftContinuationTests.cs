using System.Text.Json;
using Grid.Core;
using Grid.Policy.Checkpoints;
using Grid.Training.Evaluation;
using Grid.Training.Metrics;
using Grid.Training.Runs;
using Grid.Training.Settings;
using Grid.Training.Sft;

namespace Grid.Training.Tests;

public sealed class SftContinuationTests : IDisposable
{
    private readonly string _output = Directory.CreateTempSubdirectory("grid-sft-continued-").FullName;

    public void Dispose() => Directory.Delete(_output, recursive: true);

    [Fact]
    public void Continued_sft_trains_from_the_checkpoint_and_writes_a_normal_run_folder()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var settings = RunSettingsLoader.Load("smoke", overrides: [$"output_directory={JsonSerializer.Serialize(_output)}"]);
        var warm = new InProcessTrainer(settings, new NoObserver()).Run(grpo: false, cancellation);
        var continued = settings with
        {
            Name = "sft-counting",
            Task = "counting",
            InitCheckpoint = warm.FinalCheckpoint,
            Sft = settings.Sft with { Steps = 3, BatchSize = 4, Demonstrations = 12, Tasks = ["counting"] },
        };

        var result = new SftContinuation(continued, new NoObserver()).Run(warm.AfterSft, firstDemonstration: 64, cancellation);

        var report = RunFolderReport.Read(result.RunFolder);
        Assert.Equal("sft-counting", report.Settings.Name);
        Assert.Equal([1, 2, 3], report.SftSteps.Select(s => s.Step));
        Assert.Empty(report.Steps);
        Assert.Equal(warm.AfterSft.Tasks, report.Start!.Tasks);
        Assert.Equal(("final", "counting"), (report.Final!.Label, report.Final.TrainedTask));
        Assert.Equal(Path.Combine(result.RunFolder, "checkpoints", "step-000003"), report.Summary!.FinalCheckpoint);
        Assert.NotEqual(PolicyCheckpoint.ReadSha256(warm.FinalCheckpoint), PolicyCheckpoint.ReadSha256(result.FinalCheckpoint));
        PolicyCheckpoint.Load(result.FinalCheckpoint).Policy.Dispose();
    }

    [Fact]
    public void Continued_sft_needs_a_checkpoint_to_start_from()
    {
        Assert.Throws<ArgumentException>(() => new SftContinuation(RunSettingsLoader.Load("smoke"), new NoObserver()));
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
