using Grid.Core;
using Grid.Core.Settings;
using Grid.Training.Runs;
using Grid.Training.Settings;

namespace Grid.Training.Tests;

/// <summary>Outputs and checkpoints are checked on the machine before any expensive work.</summary>
public sealed class RunPreflightTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("grid-preflight-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void An_output_folder_that_is_a_file_or_cannot_be_created_is_refused_naming_the_setting()
    {
        string file = Path.Combine(_dir, "file.txt");
        File.WriteAllText(file, "x");

        var isFile = Assert.Throws<InvalidSettingException>(() => RunPreflight.RequireWritableFolder(file, "output_directory"));
        var underFile = Assert.Throws<InvalidSettingException>(() =>
            RunPreflight.RequireWritableFolder(Path.Combine(file, "runs"), "output_directory"));
        var proc = Assert.Throws<InvalidSettingException>(() => RunPreflight.RequireWritableFolder("/proc/grid-runs", "output_directory"));

        Assert.Contains("is a file", isFile.Message);
        Assert.All(new[] { underFile, proc }, e =>
        {
            Assert.Equal("output_directory", e.Setting);
            Assert.Contains("create and write in", e.Message);
        });
    }

    [Fact]
    public void A_writable_output_folder_is_created_and_left_without_probe_files()
    {
        string folder = Path.Combine(_dir, "a folder", "runs");

        RunPreflight.RequireWritableFolder(folder, "output_directory");

        Assert.True(Directory.Exists(folder));
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
    }

    [Fact]
    public void An_output_file_is_checked_without_being_created_or_truncated()
    {
        string existing = Path.Combine(_dir, "report.json");
        File.WriteAllText(existing, "keep");

        RunPreflight.RequireWritableFile(existing, "output");
        RunPreflight.RequireWritableFile(Path.Combine(_dir, "new.json"), "output");

        Assert.Equal("keep", File.ReadAllText(existing));
        Assert.False(File.Exists(Path.Combine(_dir, "new.json")));
        Assert.Contains("is a folder", Assert.Throws<InvalidSettingException>(() => RunPreflight.RequireWritableFile(_dir, "output")).Message);
        Assert.Contains("does not exist", Assert.Throws<InvalidSettingException>(() =>
            RunPreflight.RequireWritableFile(Path.Combine(_dir, "nope", "r.json"), "output")).Message);
        Assert.Contains("not writable", Assert.Throws<InvalidSettingException>(() =>
            RunPreflight.RequireWritableFile("/proc/grid-report.json", "output")).Message);
    }

    [Fact]
    public void A_step_estimated_past_the_memory_budget_is_refused_with_the_largest_that_fits()
    {
        var demo = RunSettingsLoader.Presets["demo"];

        var e = Assert.Throws<InvalidSettingException>(() => RunPreflight.RequireStepMemory(demo with { PromptsPerStep = 1024 }));

        Assert.Equal("prompts_per_step", e.Setting);
        Assert.Contains("at most 103 with group_size 8", e.Message);
        Assert.Contains($"{RunPreflight.StepMemoryBudgetBytes >> 20} MB", e.Message);
        RunPreflight.RequireStepMemory(demo with { PromptsPerStep = 103 });
        RunPreflight.RequireStepMemory(demo);
    }

    [Fact]
    public void The_step_estimate_is_within_the_measured_peaks()
    {
        // Measured peaks of one in-process GRPO step (whole process): smoke 1,024 completions 1.6 GB, demo 4.3 GB.
        var smoke = RunSettingsLoader.Presets["smoke"];
        var demo = RunSettingsLoader.Presets["demo"];

        Assert.InRange(RunPreflight.EstimatedStepBytes(smoke, 1024) / 1e9, 1.0, 1.6);
        Assert.InRange(RunPreflight.EstimatedStepBytes(demo, 1024) / 1e9, 3.5, 4.3);
    }

    [Fact]
    public void A_run_folder_given_as_init_checkpoint_is_refused_pointing_at_its_checkpoints()
    {
        var settings = RunSettingsLoader.Load("smoke", overrides: [$"output_directory={System.Text.Json.JsonSerializer.Serialize(_dir)}"]);
        string run = new InProcessTrainer(settings with { Sft = settings.Sft with { Steps = 1 }, EvalPrompts = 1 },
            new NullObserver()).Run(grpo: false, TestContext.Current.CancellationToken).RunFolder;

        var e = Assert.Throws<FileNotFoundException>(() => RunPreflight.Check(settings with { InitCheckpoint = run }));

        Assert.Contains("It looks like a run folder", e.Message);
        Assert.Contains(Path.Combine(run, "checkpoints", "sft"), e.Message);
    }

    [Fact]
    public void An_init_checkpoint_without_room_for_max_new_tokens_is_refused_before_training()
    {
        var settings = RunSettingsLoader.Load("smoke", overrides: ["sft.steps=0", "eval_prompts=1",
            $"output_directory={System.Text.Json.JsonSerializer.Serialize(_dir)}"]);
        string checkpoint = new InProcessTrainer(settings, new NullObserver()).Run(grpo: false, TestContext.Current.CancellationToken).FinalCheckpoint;

        var e = Assert.Throws<InvalidSettingException>(() =>
            RunPreflight.Check(settings with { InitCheckpoint = checkpoint, MaxNewTokens = settings.MaxNewTokens + 1 }));

        Assert.Equal("max_new_tokens", e.Setting);
        Assert.Contains($"at most {settings.MaxNewTokens} with the init_checkpoint", e.Message);
        RunPreflight.Check(settings with { InitCheckpoint = checkpoint });
    }

    [Fact]
    public void Sft_steps_0_still_leaves_the_starting_checkpoint_the_grid_learner_loads()
    {
        var settings = RunSettingsLoader.Load("smoke", overrides: ["sft.steps=0", "eval_prompts=1",
            $"output_directory={System.Text.Json.JsonSerializer.Serialize(_dir)}"]);

        var result = new InProcessTrainer(settings, new NullObserver()).Run(grpo: false, TestContext.Current.CancellationToken);

        Assert.True(File.Exists(Path.Combine(result.FinalCheckpoint, "checkpoint.json")), result.FinalCheckpoint);
        RunPreflight.RequireCheckpoint(result.FinalCheckpoint, "init_checkpoint");
    }

    private sealed class NullObserver : ITrainingObserver
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
