using System.Text.Json;
using Grid.Training.Settings;

namespace Grid.Training.Tests;

/// <summary>
/// Guards the policy's vision front end: counting is only learnable when the patch tokens resolve the objects in their
/// cells. A policy that reads raw 8 px pixel patches stays near chance (one answer in ten) on counting after any warm
/// start tried; the convolutional stem under cell-sized patches must take it clearly above.
/// </summary>
public sealed class VisionLearningTests : IDisposable
{
    private readonly string _output = Directory.CreateTempSubdirectory("grid-vision-").FullName;

    public void Dispose() => Directory.Delete(_output, recursive: true);

    [Fact]
    public void A_short_counting_warm_start_takes_a_small_stem_policy_clearly_above_chance()
    {
        var settings = RunSettingsLoader.Load("smoke", overrides:
        [
            $"output_directory={JsonSerializer.Serialize(_output)}", "threads=2",
            "model.d_model=64", "model.layers=2", "model.heads=2", "model.patch_size=16", "model.stem_channels=16",
            "sft.tasks=[\"counting\"]", "sft.demonstrations=2000", "sft.steps=300", "sft.batch_size=32",
            "eval_prompts=100",
        ]);

        var result = new InProcessTrainer(settings, new SilentObserver()).Run(grpo: false, TestContext.Current.CancellationToken);

        // Chance is 0.10; 100 prompts put one standard error at about 0.04 near 0.25.
        Assert.InRange(result.AfterSft.For("counting").Accuracy, 0.25, 1.0);
    }

    private sealed class SilentObserver : ITrainingObserver
    {
        public void OnPhase(string phase, int totalSteps)
        {
        }

        public void OnSftStep(int step, double loss)
        {
        }

        public void OnEvaluation(Evaluation.EvalReport report)
        {
        }

        public void OnStep(Metrics.StepMetrics metrics)
        {
        }
    }
}
