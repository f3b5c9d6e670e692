using Grid.Core.Settings;
using Grid.Training.Settings;

namespace Grid.Training.Experiments;

/// <summary>
/// Every run of a study, in the order they run: the base arm once, then per trained task and seed the training arms.
/// All start from the same base policy; seed k (0-based) runs with the study's seed + k, which changes the RL sampling,
/// the prompt order and the SFT batch order, never the base. RL arms are checked for equal compute, and every run's
/// settings are validated before anything trains.
/// </summary>
public sealed class ExperimentPlan
{
    private ExperimentPlan(RunSettings settings, IReadOnlyList<ExperimentArm> arms, IReadOnlyList<string> tasks,
        int seeds, IReadOnlyList<ArmRun> runs)
    {
        Settings = settings;
        Arms = arms;
        Tasks = tasks;
        Seeds = seeds;
        Runs = runs;
    }

    /// <summary>The study's settings (budget applied), which every arm starts from.</summary>
    public RunSettings Settings { get; }

    public IReadOnlyList<ExperimentArm> Arms { get; }

    public IReadOnlyList<string> Tasks { get; }

    public int Seeds { get; }

    /// <summary>The base arm's run first (also when base is not among the arms: it provides the start), then the rest.</summary>
    public IReadOnlyList<ArmRun> Runs { get; }

    public ArmRun Base => Runs[0];

    /// <summary>
    /// Where the sft arm's demonstrations start in the task's stream: past the ones the default warm start trained on,
    /// so that, like the prompts RL sees, they are new to the base.
    /// </summary>
    public int FirstSftDemonstration => Settings.Sft.Demonstrations;

    /// <param name="settings">The study's settings with the budget applied.</param>
    /// <param name="runsFolder">The folder the runs' folders go in.</param>
    /// <param name="baseCheckpoint">A given base policy, which the base run evaluates; null: the base run is the
    /// default warm start (the settings' sft section).</param>
    public static ExperimentPlan Create(RunSettings settings, IReadOnlyList<ExperimentArm> arms, IReadOnlyList<string> tasks,
        int seeds, string runsFolder, string? baseCheckpoint = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(arms);
        ArgumentNullException.ThrowIfNull(tasks);
        ArgumentException.ThrowIfNullOrEmpty(runsFolder);
        if (seeds < 1)
        {
            throw new InvalidSettingException("seeds", seeds, "an integer >= 1 (seeds per arm and task; 3 by default)");
        }

        if (arms.Count == 0 || tasks.Count == 0)
        {
            throw new InvalidSettingException(arms.Count == 0 ? "arms" : "tasks", "", "at least one");
        }

        var common = settings with { OutputDirectory = runsFolder, InitCheckpoint = null };
        var runs = new List<ArmRun>
        {
            new(ExperimentArm.Base, null, 0, settings.Seed, common with { Name = "base", InitCheckpoint = baseCheckpoint }),
        };
        foreach (string task in tasks)
        {
            for (int k = 0; k < seeds; k++)
            {
                long seed = settings.Seed + k;
                foreach (var arm in arms.Where(a => a != ExperimentArm.Base))
                {
                    var run = common with
                    {
                        Name = $"{arm.Name}-{task}-seed{seed}",
                        Task = task,
                        Seed = seed,
                        Kl = PaperKl.For(arm, task, settings.Kl),
                    };
                    if (arm == ExperimentArm.Sft)
                    {
                        // As many optimizer updates as RL steps, as many examples as RL sees prompts, from this task.
                        run = run with
                        {
                            Sft = settings.Sft with
                            {
                                Steps = settings.Steps,
                                BatchSize = settings.PromptsPerStep,
                                Demonstrations = settings.Steps * settings.PromptsPerStep,
                                Tasks = [task],
                            },
                        };
                    }

                    RunSettingsValidator.Validate(run);
                    runs.Add(new ArmRun(arm, task, k, seed, run));
                }
            }
        }

        EqualCompute.Require(runs.Where(r => r.Arm.IsRl)
            .Select(r => ($"{r.Arm.Name}/{r.TrainedTask}/seed {r.Seed}", ComputeShape.Of(r.Settings))).ToArray());
        return new ExperimentPlan(common, arms, tasks, seeds, runs);
    }
}
