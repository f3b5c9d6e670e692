using Grid.Core.Settings;
using Grid.Tasks;
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
        int seeds, IReadOnlyList<ArmRun> runs, IReadOnlyList<string> evalTasks)
    {
        EvalTasks = evalTasks;
        Settings = settings;
        Arms = arms;
        Tasks = tasks;
        Seeds = seeds;
        Runs = runs;
    }

    /// <summary>The study's settings (budget applied), which every arm starts from.</summary>
    public RunSettings Settings { get; }

    public IReadOnlyList<ExperimentArm> Arms { get; }

    /// <summary>The trained tasks: built-in task names, or on a dataset of the user's own its train task's name.</summary>
    public IReadOnlyList<string> Tasks { get; }

    /// <summary>The tasks every final policy is evaluated on: all built-in ones, or the dataset's eval tasks.</summary>
    public IReadOnlyList<string> EvalTasks { get; }

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
    /// <param name="evalTasks">On a dataset of the user's own (<c>data.train</c> set): the names of its eval tasks, and
    /// <paramref name="tasks"/> is its train task's name alone; every arm trains and evaluates on the dataset, the RL arms
    /// with the study's own kl values (<see cref="PaperKl.ForOwnData"/>). Null: the built-in tasks.</param>
    public static ExperimentPlan Create(RunSettings settings, IReadOnlyList<ExperimentArm> arms, IReadOnlyList<string> tasks,
        int seeds, string runsFolder, string? baseCheckpoint = null, IReadOnlyList<string>? evalTasks = null)
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

        bool ownData = settings.Data.IsSet;
        if (ownData && (evalTasks is null || tasks.Count != 1))
        {
            throw new ArgumentException("A study on a dataset trains one task, the dataset's, and names its eval tasks.", nameof(tasks));
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
                        Task = ownData ? settings.Task : task, // a dataset's task is no built-in task: data.train decides
                        Seed = seed,
                        Kl = ownData ? PaperKl.ForOwnData(arm, settings.Kl) : PaperKl.For(arm, task, settings.Kl),
                        Rollouts = settings.Rollouts with
                        {
                            MaxStaleness = arm.MaxStaleness ?? settings.Rollouts.MaxStaleness,
                        },
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
                                Tasks = ownData ? settings.Sft.Tasks : [task],
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
        return new ExperimentPlan(common, arms, tasks, seeds, runs, evalTasks ?? TaskCatalog.Names);
    }
}
