using System.Text.Json;
using System.Text.Json.Nodes;
using Grid.Core;
using Grid.Policy.Checkpoints;
using Grid.Tasks;
using Grid.Tasks.Verification;
using Grid.Training.Evaluation;
using Grid.Training.Metrics;
using Grid.Training.Rollouts;
using Grid.Training.Settings;

namespace Grid.Training.Tests;

/// <summary>The in-process loop's validation curve, read back from the run folder's metrics.jsonl.</summary>
public sealed class InProcessValidationTests : IDisposable
{
    private static readonly JsonSerializerOptions LineOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly string _output = Directory.CreateTempSubdirectory("grid-validation-").FullName;

    public void Dispose() => Directory.Delete(_output, recursive: true);

    [Fact]
    public void With_eval_every_1_every_step_records_the_validation_of_its_update_and_the_first_also_the_start()
    {
        var (_, lines) = Train("eval_every=1", "validation_prompts=4");

        Assert.Equal(3, lines.Length);
        for (int step = 0; step < lines.Length; step++)
        {
            var validation = Assert.IsType<JsonObject>(lines[step]["validation"]);
            Assert.Equal(step + 1, (long)validation["policy_version"]!);
            AssertScores(validation, prompts: 4);
            Assert.True((double)lines[step]["seconds_validation"]! > 0);
        }

        var start = Assert.IsType<JsonObject>(lines[0]["validation_start"]);
        Assert.Equal(0, (long)start["policy_version"]!);
        AssertScores(start, prompts: 4);
        Assert.All(lines.Skip(1), line => Assert.Null(line["validation_start"]));
    }

    [Fact]
    public void With_eval_every_2_only_every_second_step_and_the_last_record_a_validation()
    {
        var (_, lines) = Train("steps=5", "eval_every=2", "validation_prompts=2");

        Assert.Equal([false, true, false, true, true], lines.Select(l => l["validation"] is not null));
        Assert.Equal([2L, 4L, 5L], lines.Select(l => l["validation"]).OfType<JsonObject>().Select(v => (long)v["policy_version"]!));
        Assert.Equal([true, false, false, false, false], lines.Select(l => l["validation_start"] is not null));
        Assert.Equal([true, true, false, true, true], lines.Select(l => (double)l["seconds_validation"]! > 0));
    }

    [Fact]
    public void Validation_uses_the_validation_prompts_not_the_held_out_ones()
    {
        // A warm start long enough that the policy answers some prompts right, so the two streams score differently.
        var (result, lines) = Train("eval_every=1", "validation_prompts=16", "sft.steps=80", "sft.learning_rate=0.01");
        var settings = RunSettingsLoader.Load("smoke");
        var recorded = lines.Select(l => JsonSerializer.Deserialize<StepMetrics>(l!.ToJsonString(), LineOptions)!).ToArray();
        var evaluator = new Evaluator(new TaskVerifier(settings.FormatWeight), settings.MaxNewTokens);
        var (policy, _) = PolicyCheckpoint.Load(result.FinalCheckpoint); // version 3, validated after the last step
        EvalReport onValidation, onHeldOut;
        using (policy)
        {
            onValidation = evaluator.Evaluate(policy, TaskCatalog.All, 16, "check", settings.Task, PromptSource.Validation);
            onHeldOut = evaluator.Evaluate(policy, TaskCatalog.All, 16, "check", settings.Task, PromptSource.HeldOut);
        }

        var last = recorded[^1].Validation!;
        Assert.Equal(3, last.PolicyVersion);
        Assert.Equal(Scores(onValidation), Scores(last));
        Assert.NotEqual(Scores(onHeldOut), Scores(last));
        Assert.Contains(Scores(last), score => score > 0); // not a comparison of zeros
        Assert.All(TaskCatalog.All, task => Assert.NotEqual(
            Enumerable.Range(0, 16).Select(i => PromptSource.HeldOut(task, i).Question),
            Enumerable.Range(0, 16).Select(i => PromptSource.Validation(task, i).Question)));
    }

    private (TrainingResult Result, JsonNode[] Lines) Train(params string[] overrides)
    {
        var settings = RunSettingsLoader.Load("smoke", overrides: [$"output_directory={JsonSerializer.Serialize(_output)}", .. overrides]);
        var result = new InProcessTrainer(settings, new NoObserver()).Run(cancellation: TestContext.Current.CancellationToken);
        var lines = File.ReadAllLines(Path.Combine(result.RunFolder, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToArray();
        return (result, lines);
    }

    private static void AssertScores(JsonObject validation, int prompts)
    {
        Assert.Equal(prompts, (int)validation["prompts"]!);
        foreach (string field in new[] { "accuracy", "format_rate" })
        {
            var byTask = Assert.IsType<JsonObject>(validation[field]);
            Assert.Equal(TaskCatalog.Names.Order(), byTask.Select(p => p.Key).Order());
            Assert.All(byTask, p => Assert.InRange((double)p.Value!, 0, 1));
        }
    }

    private static double[] Scores(EvalReport report) =>
        report.Tasks.SelectMany(t => new[] { t.Accuracy, t.FormatRate }).ToArray();

    private static double[] Scores(ValidationMetrics validation) =>
        TaskCatalog.All.SelectMany(t => new[] { validation.Accuracy[t.Name], validation.FormatRate[t.Name] }).ToArray();

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
