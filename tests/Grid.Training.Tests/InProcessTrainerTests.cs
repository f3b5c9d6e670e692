using System.Text.Json;
using Grid.Core;
using Grid.Policy.Checkpoints;
using Grid.Training.Evaluation;
using Grid.Training.Metrics;
using Grid.Training.Settings;

namespace Grid.Training.Tests;

public sealed class InProcessTrainerTests : IDisposable
{
    private readonly string _output = Directory.CreateTempSubdirectory("grid-runs-").FullName;

    public void Dispose() => Directory.Delete(_output, recursive: true);

    [Fact]
    public void A_smoke_run_writes_settings_metrics_checkpoints_and_both_evaluations()
    {
        var settings = RunSettingsLoader.Load("smoke", overrides: [$"output_directory={JsonSerializer.Serialize(_output)}"]);
        var observer = new RecordingObserver();

        var result = new InProcessTrainer(settings, observer).Run(cancellation: TestContext.Current.CancellationToken);

        Assert.True(File.Exists(Path.Combine(result.RunFolder, "settings.json")));
        var lines = File.ReadAllLines(Path.Combine(result.RunFolder, "metrics.jsonl"));
        Assert.Equal(settings.Steps, lines.Length);
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        var metrics = lines.Select(l => JsonSerializer.Deserialize<StepMetrics>(l, options)!).ToArray();
        Assert.Equal([0L, 1L, 2L], metrics.Select(m => m.Step));
        Assert.All(metrics, m =>
        {
            Assert.Equal(settings.PromptsPerStep, m.Groups);
            Assert.InRange(m.Beta, settings.Kl.BetaMin, settings.Kl.BetaMax);
            Assert.True(m.TokensGenerated > 0);
            Assert.True(double.IsFinite(m.Loss));
        });
        Assert.Equal(observer.Steps.Select(m => m.Step), metrics.Select(m => m.Step));
        Assert.Equal(["start", "final"], observer.Evaluations.Select(e => e.Label));
        Assert.Equal(["counting", "geometry"], result.Final.Tasks.Select(t => t.Task));
        Assert.True(File.Exists(Path.Combine(result.RunFolder, "eval-final.json")));
        // Checkpoints every 2 steps and at the end; each verifies on load.
        Assert.True(Directory.Exists(Path.Combine(result.RunFolder, "checkpoints", "step-000002")));
        var (policy, _) = PolicyCheckpoint.Load(result.FinalCheckpoint);
        policy.Dispose();
    }

    [Fact]
    public void The_dynamic_beta_schedule_is_applied_step_by_step()
    {
        var settings = RunSettingsLoader.Load("smoke", overrides:
            [$"output_directory={JsonSerializer.Serialize(_output)}", "steps=4", "kl.beta_min=0.0", "kl.beta_max=0.02", "kl.warmup_fraction=0.5"]);
        var observer = new RecordingObserver();

        new InProcessTrainer(settings, observer).Run(cancellation: TestContext.Current.CancellationToken);

        // t = 4, w = 2: 0.01 -> 0.005 -> 0 -> 0.01 (Eq. 3).
        Assert.Equal([0.01, 0.005, 0.0, 0.01], observer.Steps.Select(m => Math.Round(m.Beta, 12)));
    }

    private sealed class RecordingObserver : ITrainingObserver
    {
        public List<StepMetrics> Steps { get; } = [];

        public List<EvalReport> Evaluations { get; } = [];

        public void OnPhase(string phase, int totalSteps)
        {
        }

        public void OnSftStep(int step, double loss) => Assert.True(double.IsFinite(loss));

        public void OnEvaluation(EvalReport report) => Evaluations.Add(report);

        public void OnStep(StepMetrics metrics) => Steps.Add(metrics);
    }
}
