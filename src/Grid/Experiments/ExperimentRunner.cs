using System.Runtime.InteropServices;
using System.Text.Json;
using Grid.Cli.Commands;
using Grid.Core;
using Grid.Policy.Checkpoints;
using Grid.Tasks;
using Grid.Telemetry.Reports;
using Grid.Training;
using Grid.Training.Experiments;
using Grid.Training.Metrics;
using Grid.Training.Runs;
using Grid.Training.Settings;
using Grid.Training.Sft;

namespace Grid.Cli.Experiments;

/// <summary>
/// Runs a study: the base (the default warm start, or the given checkpoint evaluated), then per trained task and seed
/// the sft arm and the RL arms, all from the base; then experiment.json, results.md and the chart. Every piece of
/// torch work runs on a torch thread of its own that ends before the next starts; this thread only reads run folders
/// and writes the results.
/// </summary>
internal sealed class ExperimentRunner(ExperimentPlan plan, ExperimentBudget budget, IReadOnlyList<string> budgetChanges,
    ExperimentFolder folder, IRlArmTrainer rlTrainer, string commandLine, bool resume = false)
{
    /// <summary>Runs of the plan finished so far (in this process or, on a resume, before it).</summary>
    public int RunsFinished { get; private set; }

    public const string ChartFile = ExperimentChart.FileName;

    /// <summary>
    /// The settings' snake_case JSON, with quotes and arrows in strings written as they are, not \u-escaped, and a NaN
    /// or infinite number as null like every run folder file (<see cref="NonFinite"/>).
    /// </summary>
    private static readonly JsonSerializerOptions s_json = NonFinite.Json(new(RunSettingsLoader.JsonOptions)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    public ExperimentResults Run(CancellationToken cancellation)
    {
        var started = DateTimeOffset.UtcNow;
        var progress = new ExperimentProgress(plan.Runs, plan.Seeds);
        var results = new List<ArmResult>();

        progress.Starting(plan.Base);
        // The default warm start, or (with init_checkpoint) the given base evaluated.
        var warm = Finished(plan.Base) ?? TorchThread.Run(() => ConsoleProgress.Run(observer =>
            new InProcessTrainer(plan.Base.Settings, new WithoutEvaluationTables(observer)).Run(grpo: false, cancellation)));
        // The base is trained no further: its final evaluation is its start's.
        RunFolder.Open(warm.RunFolder).WriteJson("eval-final.json", warm.AfterSft with { Label = "final" });
        progress.Finished(plan.Base, warm);
        RunsFinished++;
        string checkpoint = warm.FinalCheckpoint;
        var basePolicy = new BasePolicy(checkpoint, PolicyCheckpoint.ReadSha256(checkpoint), plan.Base.Settings.InitCheckpoint is null,
            folder.Relative(warm.RunFolder));
        if (plan.Arms.Contains(ExperimentArm.Base))
        {
            results.Add(Result(plan.Base, warm, trainedTask: null, seed: null));
        }

        foreach (string task in plan.Tasks)
        {
            for (int k = 0; k < plan.Seeds; k++)
            {
                var runs = plan.Runs.Where(r => r.TrainedTask == task && r.SeedIndex == k).ToArray();
                if (runs.FirstOrDefault(r => r.Arm == ExperimentArm.Sft) is { } sft)
                {
                    progress.Starting(sft);
                    var result = Finished(sft) ?? TorchThread.Run(() => ConsoleProgress.Run(observer =>
                        new SftContinuation(sft.StartingFrom(checkpoint), new WithoutEvaluationTables(observer))
                            .Run(warm.AfterSft, plan.FirstSftDemonstration, cancellation)));
                    progress.Finished(sft, result);
                    RunsFinished++;
                    results.Add(Result(sft, result, task, sft.Seed));
                }

                var rl = runs.Where(r => r.Arm.IsRl).ToArray();
                var done = rl.Select(Finished).ToArray();
                var interrupted = rl.Where((_, i) => done[i] is null).Select(r => (r.Settings.Name, Folder: Interrupted(r)))
                    .Where(r => r.Folder is not null).ToDictionary(r => r.Name, r => r.Folder!);
                var toTrain = rl.Where((_, i) => done[i] is null).Select(r => (r, r.StartingFrom(checkpoint))).ToArray();
                if (toTrain.Length > 0)
                {
                    var trainedNow = rlTrainer.Train(toTrain, progress, cancellation, interrupted);
                    for (int i = 0, n = 0; i < rl.Length; i++)
                    {
                        done[i] ??= trainedNow[n++];
                    }
                }

                for (int i = 0; i < rl.Length; i++)
                {
                    RunPlots.Write(done[i]!.RunFolder);
                    results.Add(Result(rl[i], done[i]!, task, rl[i].Seed));
                    RunsFinished++;
                }
            }
        }

        var summary = Summarize(started, progress.Elapsed.TotalSeconds, basePolicy, results);
        Write(summary);
        return summary;
    }

    /// <summary>
    /// On a resume, the result of <paramref name="run"/> when its run folder finished (its summary.json, written last,
    /// exists and, for an RL arm, counts every step); a folder it left unfinished is removed, unless an RL arm's grid
    /// state can continue it (<see cref="Interrupted"/>). Null: run it.
    /// </summary>
    private TrainingResult? Finished(ArmRun run)
    {
        if (!resume || FolderOf(run) is not { } path)
        {
            return null;
        }

        var summary = RunFolderReport.ReadJson<TrainingResult>(path, "summary.json");
        bool finished = summary is not null && File.Exists(Path.Combine(path, "eval-start.json"))
            && (!run.Arm.IsRl || (summary.StepsCompleted >= run.Settings.Steps && File.Exists(Path.Combine(path, "eval-final.json"))));
        if (finished)
        {
            return summary! with { RunFolder = path };
        }

        if (!run.Arm.IsRl || Interrupted(run) is null)
        {
            Directory.Delete(path, recursive: true);
        }

        return null;
    }

    /// <summary>On a resume, the run folder of an RL arm whose GRPO-D the embedded grid can continue; null otherwise.</summary>
    private string? Interrupted(ArmRun run) =>
        resume && run.Arm.IsRl && FolderOf(run) is { } path
            && Directory.Exists(Path.Combine(path, Embedded.EmbeddedGrid.StateFolder)) ? path : null;

    /// <summary>The folder of <paramref name="run"/> in the study's runs folder (by the name in its settings.json); null if none.</summary>
    private string? FolderOf(ArmRun run) => Directory.Exists(folder.RunsPath)
        ? Directory.GetDirectories(folder.RunsPath).Where(RunFolderReport.IsRunFolder)
            .FirstOrDefault(d => RunFolderReport.ReadJson<RunSettings>(d, RunFolderReport.SettingsFile)?.Name == run.Settings.Name)
        : null;

    private ExperimentResults Summarize(DateTimeOffset started, double seconds, BasePolicy basePolicy, IReadOnlyList<ArmResult> runs)
    {
        var arms = plan.Arms.Select(a => a.Name).ToArray();
        var cells = ExperimentAggregation.Cells(runs, arms, plan.Tasks, plan.EvalTasks, plan.Settings.EvalPrompts);
        return new ExperimentResults(
            Name: Path.GetFileName(folder.Path),
            StartedUtc: started,
            WallSeconds: seconds,
            CommandLine: commandLine,
            Cores: Environment.ProcessorCount,
            OperatingSystem: RuntimeInformation.OSDescription,
            Mode: rlTrainer.Mode,
            Budget: budget.Name,
            BudgetChanges: budgetChanges,
            SettingsChanged: SettingsDifference.From(new RunSettings(), plan.Settings with { OutputDirectory = new RunSettings().OutputDirectory }),
            Base: basePolicy,
            Arms: arms,
            Tasks: plan.Tasks,
            EvalTasks: plan.EvalTasks,
            Seeds: Enumerable.Range(0, plan.Seeds).Select(k => plan.Settings.Seed + k).ToArray(),
            EvalPrompts: plan.Settings.EvalPrompts,
            TestPrompts: plan.Settings.Data.IsSet ? ExperimentResults.DatasetTestPrompts : ExperimentResults.HeldOutTestPrompts,
            Compute: ExperimentAggregation.Compute(plan, runs),
            Runs: runs,
            Cells: cells,
            Comparisons: ExperimentAggregation.Comparisons(cells));
    }

    /// <summary>The bars of the study's chart: each cell's mean and standard error.</summary>
    internal static AccuracyChart Chart(ExperimentResults results) => new(results.Arms, results.Tasks, results.EvalTasks,
        results.Cells.Select(c => new AccuracyBar(c.Arm, c.TrainedTask, c.EvalTask, c.Mean, c.StandardError)).ToArray(),
        results.Seeds.Count, results.EvalPrompts);

    private void Write(ExperimentResults results)
    {
        File.WriteAllText(Path.Combine(folder.Path, ExperimentFolder.ResultsJson),
            JsonSerializer.Serialize(results, s_json));
        ExperimentChart.Write(Chart(results), Path.Combine(folder.Path, ChartFile));
        File.WriteAllText(Path.Combine(folder.Path, ResultsMarkdown.FileName), ResultsMarkdown.Render(results, ChartFile));
    }

    private ArmResult Result(ArmRun run, TrainingResult result, string? trainedTask, long? seed)
    {
        var report = RunFolderReport.Read(result.RunFolder);
        return new ArmResult(
            Arm: run.Arm.Name,
            TrainedTask: trainedTask,
            Seed: seed,
            RunFolder: folder.Relative(result.RunFolder),
            Accuracy: result.Final.Tasks.ToDictionary(t => t.Task, t => t.Accuracy),
            FormatRate: result.Final.Tasks.ToDictionary(t => t.Task, t => t.FormatRate),
            Steps: run.Arm.IsRl ? result.StepsCompleted : run.Arm == ExperimentArm.Sft ? report.SftSteps.Count : 0,
            TokensGenerated: report.TokensGenerated,
            UpdatesSkipped: result.UpdatesSkipped,
            Seconds: result.SecondsTotal);
    }
}
