using System.Diagnostics;
using System.Text.Json;
using Grid.Core;
using Grid.Policy.Checkpoints;
using Grid.Policy.Tokenization;
using Grid.Tasks.Datasets;
using Grid.Training.Data;
using Grid.Training.Settings;

namespace Grid.Training.Tests.OwnData;

/// <summary>Training and evaluating on a dataset of the user's own, in-process, end to end.</summary>
public sealed class OwnDataRunTests : IDisposable
{
    private readonly string _output = Directory.CreateTempSubdirectory("grid-runs-").FullName;
    private readonly ColourDataset _data = new(count: 160);

    public void Dispose()
    {
        Directory.Delete(_output, recursive: true);
        _data.Dispose();
    }

    private RunSettings Settings(params string[] more) => RunSettingsLoader.Load("smoke", overrides:
    [
        $"output_directory={JsonSerializer.Serialize(_output)}", $"data.train={JsonSerializer.Serialize(_data.Jsonl)}",
        "data.answer_kind=choice", "data.eval_fraction=0.25", .. more,
    ]);

    [Fact]
    public void Sft_and_grpo_on_own_data_record_the_files_and_evaluate_on_the_eval_split()
    {
        var settings = Settings("sft.steps=60", "sft.batch_size=16", "sft.demonstrations=1000", "steps=3", "eval_prompts=200",
            "max_new_tokens=16");
        var clock = Stopwatch.StartNew();

        var result = new InProcessTrainer(settings, new Silent()).Run(cancellation: TestContext.Current.CancellationToken);

        var data = RunData.For(settings);
        var split = data.Record!;
        Assert.Equal(160, split.TrainExamples + split.EvalExamples);
        Assert.InRange(split.EvalExamples, 20, 60);

        // data.json names the JSONL and each image with its sha256, as DatasetFiles computes them.
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(result.RunFolder, "data.json")));
        var train = json.RootElement.GetProperty("train").EnumerateArray().ToArray();
        Assert.Equal(DatasetFiles.Of(_data.Jsonl).Sha256, train[0].GetProperty("sha256").GetString());
        Assert.Equal(Path.GetFullPath(_data.Jsonl), train[0].GetProperty("path").GetString());
        Assert.Equal(1 + 160, train.Length); // the file and each image it names (one per record here), split or not
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("eval").ValueKind);
        Assert.Equal(0.25, json.RootElement.GetProperty("split").GetProperty("eval_fraction").GetDouble());
        Assert.Equal(Tokenizer.ByteFallbackName, json.RootElement.GetProperty("tokenizer").GetString());

        // Evaluation is on the whole eval split, as one task of the records' task name.
        var start = Assert.Single(result.AfterSft.Tasks);
        var final = Assert.Single(result.Final.Tasks);
        Assert.Equal("custom", final.Task);
        Assert.Equal(split.EvalExamples, final.Prompts);
        Assert.Equal(split.EvalExamples, start.Prompts);

        // Every checkpoint records the byte-fallback tokenizer; loading it with the default one is refused.
        foreach (var checkpoint in Directory.GetDirectories(Path.Combine(result.RunFolder, "checkpoints")))
        {
            Assert.Equal(Tokenizer.ByteFallbackName, PolicyCheckpoint.ReadManifest(checkpoint).TokenizerOrDefault.Name);
        }

        Assert.ThrowsAny<Exception>(() => PolicyCheckpoint.Load(result.FinalCheckpoint));
        var (policy, config) = PolicyCheckpoint.Load(result.FinalCheckpoint, Tokenizer.ByteFallback);
        policy.Dispose();
        Assert.Equal(Tokenizer.ByteFallbackSize, config.VocabSize);

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"own data: eval accuracy {start.Accuracy:P1} after SFT, {final.Accuracy:P1} after GRPO-D "
            + $"(format {start.FormatRate:P1} / {final.FormatRate:P1}, chance 25%), {split.TrainExamples} train / "
            + $"{split.EvalExamples} eval, {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(final.Accuracy > 0.5, $"held-out accuracy {final.Accuracy:P1} is not well above chance (25%)");
    }

    [Fact]
    public void The_split_never_shares_an_id_and_an_eval_file_sharing_one_is_refused()
    {
        var data = RunData.For(Settings());
        var trainIds = ((DatasetTask)data.TrainTask).Examples.Select(e => e.Id).ToHashSet();
        var evalIds = data.EvalTasks.Cast<DatasetTask>().SelectMany(t => t.Examples).Select(e => e.Id).ToArray();
        Assert.NotEmpty(evalIds);
        Assert.DoesNotContain(evalIds, trainIds.Contains);
        Assert.Equal(160, trainIds.Count + evalIds.Length);

        // Records q-150 ... q-169: q-150 to q-159 are in the train file too.
        string eval = _data.Write("eval", 20, firstId: 150);
        var e = Assert.Throws<DatasetFormatException>(() => RunData.For(Settings($"data.eval={JsonSerializer.Serialize(eval)}")));
        Assert.Contains("eval.jsonl", e.Message);
        Assert.Contains("line 1", e.Message);
        Assert.Contains("q-150", e.Message);

        string disjoint = _data.Write("heldout", 20, firstId: 1000);
        var separate = RunData.For(Settings($"data.eval={JsonSerializer.Serialize(disjoint)}"));
        Assert.Equal(160, ((DatasetTask)separate.TrainTask).Examples.Count);
        Assert.Equal(20, separate.Record!.EvalExamples);
        Assert.Equal(21, separate.Record.Eval!.Count);
    }

    [Fact]
    public void A_record_whose_answer_the_kind_cannot_parse_is_refused_with_file_and_line_before_anything_is_written()
    {
        string bad = _data.Write("bad", 5, firstId: 0, answerOf: i => i == 3 ? "E" : "A");
        var settings = RunSettingsLoader.Load("smoke", overrides:
            [$"output_directory={JsonSerializer.Serialize(_output)}", $"data.train={JsonSerializer.Serialize(bad)}", "data.answer_kind=choice"]);

        var e = Assert.Throws<DatasetFormatException>(() => new InProcessTrainer(settings, new Silent()).Run(grpo: false, TestContext.Current.CancellationToken));

        Assert.Contains("bad.jsonl", e.Message);
        Assert.Contains("line 4", e.Message);
        Assert.Empty(Directory.GetDirectories(_output));
    }

    [Fact]
    public void Data_settings_are_validated_with_the_path_and_the_fix()
    {
        string missing = Path.Combine(_output, "nope.jsonl");
        var e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", overrides: [$"data.train={JsonSerializer.Serialize(missing)}"]));
        Assert.Contains("data.train", e.Message);
        Assert.Contains(missing, e.Message);
        Assert.Contains("grid dataset", e.Message);

        e = Assert.Throws<InvalidSettingException>(() => RunSettingsLoader.Load("smoke", overrides: [$"data.eval={JsonSerializer.Serialize(_data.Jsonl)}"]));
        Assert.Contains("data.train", e.Message);
        Assert.Throws<InvalidSettingException>(() => Settings("data.answer_kind=letter"));
        Assert.Throws<InvalidSettingException>(() => Settings("data.tolerance=0.5"));
        Assert.Throws<InvalidSettingException>(() => Settings("data.eval_fraction=1"));

        // Left out, the run is on the built-in tasks with the default tokenizer, as before.
        var builtIn = RunData.For(RunSettingsLoader.Load("smoke"));
        Assert.False(builtIn.IsDataset);
        Assert.Same(Tokenizer.Default, builtIn.Tokenizer);
        Assert.Equal(["counting", "geometry"], builtIn.EvalTasks.Select(t => t.Name));
    }

    private sealed class Silent : ITrainingObserver
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
